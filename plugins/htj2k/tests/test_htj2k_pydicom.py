"""HTJ2K through pydicom: unmodified scripts, codestream rules per frame, the decoder order, lossy metadata and
the error messages users see."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import medcodec
import numpy as np
import openjpeg
import pydicom
import pytest
from medcodec.verify import psnr
from medcodec_plugin_htj2k import codestream
from medcodec_plugin_htj2k.plugin import HTJ2K, LOSSY_METHOD, HTJ2KLossless, HTJ2KLosslessRPCL
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import get_decoder

LOSSLESS_SYNTAXES = (HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K)


@pytest.fixture(autouse=True)
def _installed() -> None:
    medcodec.install()


def _frames(ds: pydicom.Dataset) -> list[bytes]:
    return list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1)))


@pytest.mark.parametrize("uid", LOSSLESS_SYNTAXES, ids=["201", "202", "203"])
def test_compress_round_trip_with_conformant_codestreams(real_dataset, image_key: str, uid: str) -> None:
    ds = real_dataset(image_key)
    expected = ds.pixel_array.copy()
    ds.compress(uid)  # no options: .203 is then reversible too
    np.testing.assert_array_equal(ds.pixel_array, expected)
    for frame in _frames(ds):
        info = codestream.parse(frame)
        assert codestream.dicom_problems(info, lossless=True, rpcl=uid == HTJ2KLosslessRPCL) == []
        assert info.components[0].signed == (ds.PixelRepresentation == 1)
    # The second implementation (pydicom's own OpenJPEG plugin) decodes the same frames bit-exactly.
    ds.pixel_array_options(decoding_plugin="pylibjpeg")
    np.testing.assert_array_equal(ds.pixel_array, expected)


def test_unmodified_script_in_a_fresh_interpreter(shared: Path, tmp_path: Path) -> None:
    """The script knows nothing of medcodec: compress to all three syntaxes, save, read back, compare."""
    source = shared / "corpus" / "dcm_qa_12bit/In/12bitSigned_0x0F0F.dcm"
    script = textwrap.dedent(f"""
        import numpy as np, pydicom
        from pydicom.uid import HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K
        for uid, options in ((HTJ2KLossless, {{}}), (HTJ2KLosslessRPCL, {{}}), (HTJ2K, {{"htj2k_max_error": 3}})):
            ds = pydicom.dcmread({str(source)!r})
            original = ds.pixel_array.astype(int)
            ds.compress(uid, **options)
            ds.save_as({str(tmp_path)!r} + "/out.dcm", enforce_file_format=True)
            back = pydicom.dcmread({str(tmp_path)!r} + "/out.dcm")
            err = int(np.abs(back.pixel_array.astype(int) - original).max())
            print(back.file_meta.TransferSyntaxUID, err)
    """)
    env = {**os.environ, "MEDCODEC_LOAD_PLUGINS": "htj2k"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.strip().splitlines()]
    assert lines == [[HTJ2KLossless, "0"], [HTJ2KLosslessRPCL, "0"], [HTJ2K, lines[2][1]]]
    assert 0 < int(lines[2][1]) <= 3


@pytest.mark.parametrize("uid", LOSSLESS_SYNTAXES, ids=["201", "202", "203"])
def test_our_decoder_is_tried_first_and_openjpeg_stays_as_fallback(uid: str) -> None:
    plugins = list(get_decoder(uid)._available)
    spec = medcodec.get_codec(uid)
    assert plugins[0] == spec.label and "pylibjpeg" in plugins[1:]


def test_part1_codestream_under_an_htj2k_uid_falls_back_to_openjpeg(real_dataset) -> None:
    """OpenJPH refuses a codestream without HT capability; pydicom's OpenJPEG plugin then decodes it."""
    ds = real_dataset("ct16_signed")
    expected = ds.pixel_array.copy()
    ds.compress(HTJ2KLossless)
    ds.PixelData = encapsulate([openjpeg.encode(expected, bits_stored=16)])
    ds["PixelData"].is_undefined_length = True
    np.testing.assert_array_equal(ds.pixel_array, expected)


def test_ybr_rct_uses_the_reversible_colour_transform(real_dataset) -> None:
    ds = real_dataset("us_rgb8")
    expected = ds.pixel_array.copy()
    ds.PhotometricInterpretation = "YBR_RCT"  # pydicom's rule: the value after encoding
    ds.compress(HTJ2KLosslessRPCL)
    assert codestream.parse(_frames(ds)[0]).colour_transform
    np.testing.assert_array_equal(ds.pixel_array, expected)
    ds.decompress()
    assert ds.PhotometricInterpretation == "RGB"
    np.testing.assert_array_equal(ds.pixel_array, expected)


def test_ybr_ict_with_a_lossy_target(real_dataset) -> None:
    ds = real_dataset("us_rgb8")
    expected = ds.pixel_array.astype(np.int64)
    ds.PhotometricInterpretation = "YBR_ICT"
    ds.compress(HTJ2K, htj2k_psnr=45)
    info = codestream.parse(_frames(ds)[0])
    assert info.colour_transform and not info.reversible
    assert psnr(expected, ds.pixel_array) >= 45


def test_lossy_203_is_marked_lossy_and_reversible_203_is_not(real_dataset) -> None:
    ds = real_dataset("ct16_signed")
    old_uid = ds.SOPInstanceUID
    report = medcodec.compress(ds, "htj2k", options={"htj2k_psnr": 50})
    assert report.lossy and report.psnr >= 50
    assert ds.LossyImageCompression == "01"
    assert ds.LossyImageCompressionMethod == LOSSY_METHOD == "ISO_15444_15"
    assert ds.SOPInstanceUID != old_uid

    ds = real_dataset("ct16_signed")
    report = medcodec.compress(ds, "htj2k")
    assert not report.lossy and report.max_abs_error == 0
    assert "LossyImageCompression" not in ds and ds.SOPInstanceUID == old_uid


def test_multiframe_rpcl_every_frame_conformant(real_dataset) -> None:
    ds = real_dataset("nm16_13_frames")
    expected = ds.pixel_array.copy()
    ds.compress(HTJ2KLosslessRPCL)
    frames = _frames(ds)
    assert len(frames) == 13
    for frame, want in zip(frames, expected, strict=True):
        assert codestream.dicom_problems(codestream.parse(frame), lossless=True, rpcl=True) == []
        np.testing.assert_array_equal(openjpeg.decode(frame), want)
    np.testing.assert_array_equal(ds.pixel_array, expected)


@pytest.mark.parametrize(("uid", "options", "message"), [
    (HTJ2KLossless, {"htj2k_psnr": 50}, "codec 'htj2k_lossless'.*htj2k_psnr cannot be used with a lossless-only"),
    (HTJ2K, {"htj2k_psnr": 50, "htj2k_ratio": 10}, "codec 'htj2k'.*give only one of"),
    (HTJ2K, {"htj2k_ratio": 0.5}, "codec 'htj2k'.*ratio target must be > 1"),
    (HTJ2K, {"htj2k_max_error": 2, "htj2k_reversible": True}, "contradicts htj2k_max_error"),
    (HTJ2K, {"htj2k_qstep": 0.1}, "codec 'htj2k'.*htj2k_qstep=0.1 is finer than OpenJPH's finest step"),
    (HTJ2KLosslessRPCL, {"htj2k_decompositions": 1}, "codec 'htj2k_lossless_rpcl'.*larger than 64 px.*RPCL forbids"),
])
def test_bad_options_raise_encode_errors_naming_the_codec(real_dataset, uid: str, options: dict, message: str
                                                         ) -> None:
    ds = real_dataset("ct16_signed")
    with pytest.raises(Exception, match=message):
        ds.compress(uid, **options)


def test_ybr_ict_without_a_target_is_refused(real_dataset) -> None:
    ds = real_dataset("us_rgb8")
    ds.PhotometricInterpretation = "YBR_ICT"
    with pytest.raises(Exception, match="codec 'htj2k'.*YBR_ICT declares the irreversible colour transform"):
        ds.compress(HTJ2K)


def test_truncated_frame_error_names_the_codec_and_the_problem(real_dataset) -> None:
    ds = real_dataset("ct16_signed")
    ds.compress(HTJ2KLossless)
    frame = _frames(ds)[0]
    ds.PixelData = encapsulate([frame[: len(frame) // 2]])
    ds["PixelData"].is_undefined_length = True
    with pytest.raises(Exception, match="codec 'htj2k_lossless'.*truncated"):
        ds.pixel_array  # noqa: B018


def test_lossy_saturated_image_decodes_through_pydicom_without_wrap(real_dataset) -> None:
    ds = real_dataset("dx8_monochrome1")
    expected = ds.pixel_array.astype(np.int64)
    ds.compress(HTJ2K, htj2k_qstep=4)
    assert np.abs(ds.pixel_array.astype(np.int64) - expected).max() <= 8


@pytest.mark.parametrize("bits", range(1, 17))
@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_every_claimed_bits_stored_round_trips(bits: int, signed: bool) -> None:
    from medcodec.testing import make_dataset

    if bits == 1 and signed:
        pytest.skip("a 1-bit signed sample has no magnitude")
    for uid in LOSSLESS_SYNTAXES:
        ds = make_dataset(33, 70, 2, bits, signed, 1, seed=bits)
        expected = ds.pixel_array.copy()
        ds.compress(uid)
        np.testing.assert_array_equal(ds.pixel_array, expected)
