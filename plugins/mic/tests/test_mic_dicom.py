"""MIC Lossless through pydicom on real images: the corpus and pydicom's own test files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
MIC_LOSSLESS = "2.25.68667338034845433904652776429924625335.1.1"

# (corpus path, what it exercises)
CORPUS = {
    "cornerstone3D/CTImage.dcm": "CT 512x512, 16-bit signed",
    "dcm_qa_12bit/In/12bitSigned_0x0F0F.dcm": "MR 384x384, 12-bit signed",
    "dcm_qa_12bit/In/12bitUnsigned.dcm": "MR 384x384, 12-bit unsigned",
    "dcm4che/dcm4che-test-data/src/main/resources/NM-MONO2-16-13x-heart": "NM 13 frames, 16-bit",
    "dcm4che/dcm4che-assembly/src/etc/testdata/dicom/MR01.dcm": "MR 256x256, 16-bit unsigned",
    "highdicom/dx_image.dcm": "DX MONOCHROME1, 8-bit",
    "highdicom/sm_image_grayscale.dcm": "SM 25 frames 10x10",
    "dcm_qa_nih/In/20180918GE/mr_0005/axial_epi_fmri_sequential_i_to_s-00001.dcm": "EPI 64x64 signed",
}


def _corpus_file(relative: str) -> Path:
    path = (SHARED / "corpus" / relative).resolve()
    if not path.is_file():
        pytest.skip(f"corpus file {relative} is not available")
    return path


@pytest.mark.parametrize("relative", sorted(CORPUS), ids=lambda r: CORPUS[r])
def test_corpus_image_round_trips_through_pydicom(relative: str) -> None:
    from pydicom import dcmread

    ds = dcmread(_corpus_file(relative))
    expected = ds.pixel_array.copy()
    photometric = ds.PhotometricInterpretation
    ds.compress(MIC_LOSSLESS)
    assert ds.file_meta.TransferSyntaxUID == MIC_LOSSLESS
    np.testing.assert_array_equal(ds.pixel_array, expected)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    reread = dcmread(io.BytesIO(buffer.getvalue()))
    assert reread.PhotometricInterpretation == photometric
    np.testing.assert_array_equal(reread.pixel_array, expected)


@pytest.mark.parametrize("name", ["ct", "mr"])
def test_pydicom_examples_round_trip_in_every_pipeline(name: str) -> None:
    from pydicom import examples

    for kind in ("huff", "fse1", "fse2", "fse4"):
        ds = getattr(examples, name)
        expected = ds.pixel_array.copy()
        ds.compress(MIC_LOSSLESS, mic_kind=kind)
        np.testing.assert_array_equal(ds.pixel_array, expected)


def test_unknown_pipeline_option_is_refused() -> None:
    from pydicom import examples

    ds = examples.ct
    with pytest.raises(Exception, match="mic_kind='lz4' is not one of"):
        ds.compress(MIC_LOSSLESS, mic_kind="lz4")


def test_rgb_is_refused_clearly() -> None:
    from pydicom import examples

    ds = examples.rgb_color
    with pytest.raises(Exception, match="mic.*(SamplesPerPixel|colour|samples)"):
        ds.compress(MIC_LOSSLESS)


def test_unmodified_script_compresses_and_reads(tmp_path: Path) -> None:
    """A script that never imports medcodec: compress with the UID string, save, re-read."""
    source = _corpus_file("dcm_qa_12bit/In/12bitSigned_0x0F0F.dcm")
    script = textwrap.dedent(f"""
        import json, hashlib, pydicom
        ds = pydicom.dcmread({str(source)!r})
        before = hashlib.sha256(ds.pixel_array.tobytes()).hexdigest()
        ds.compress({MIC_LOSSLESS!r})
        ds.save_as({str(tmp_path / 'out.dcm')!r}, enforce_file_format=True)
        again = pydicom.dcmread({str(tmp_path / 'out.dcm')!r})
        after = hashlib.sha256(again.pixel_array.tobytes()).hexdigest()
        print(json.dumps({{"ts": str(again.file_meta.TransferSyntaxUID), "same": before == after,
                           "size": len(again.PixelData)}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"ts": MIC_LOSSLESS, "same": True, "size": result["size"]}
    assert result["size"] < 384 * 384 * 2 / 1.5  # it really compressed


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_eight_bits_stored_in_sixteen_allocated(signed: bool) -> None:
    """BitsAllocated 16 / BitsStored 8: pydicom hands the encoder one byte per sample."""
    from pydicom import examples

    ds = examples.ct  # a real CT slice, rescaled into 8 bits
    pixels = ds.pixel_array.astype(np.int32)
    scaled = (pixels - pixels.min()) * 255 // max(int(pixels.max() - pixels.min()), 1)
    ds.BitsStored, ds.HighBit = 8, 7
    ds.PixelRepresentation = int(signed)
    values = (scaled - 128 if signed else scaled).astype(np.int16 if signed else np.uint16)
    ds.PixelData = values.tobytes()
    expected = ds.pixel_array.copy()
    np.testing.assert_array_equal(expected, values)
    ds.compress(MIC_LOSSLESS)
    np.testing.assert_array_equal(ds.pixel_array, expected)
