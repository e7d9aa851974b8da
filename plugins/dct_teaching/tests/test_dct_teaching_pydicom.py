"""The DCTTeaching transfer syntax through pydicom and medcodec.compress, on real images."""

from __future__ import annotations

import copy

import medcodec
import numpy as np
import pydicom
import pytest
from medcodec_plugin_dct_teaching import codec
from medcodec_plugin_dct_teaching.plugin import LOSSY_METHOD, DCTTeaching
from medcodec_plugin_dct_teaching.quantise import max_pixel_error
from pydicom.encaps import encapsulate, generate_frames


@pytest.fixture(autouse=True)
def _installed() -> None:
    medcodec.install()


def test_signed_ct_keeps_its_negative_values(signed_ct: pydicom.Dataset) -> None:
    ds = copy.deepcopy(signed_ct)
    original = ds.pixel_array.copy()
    ds.compress(DCTTeaching, quality=30)
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    assert frame[4] == 2  # MMPC version 2: version 1 would have clipped -2000 to 0
    decoded = ds.pixel_array
    assert decoded.dtype == np.int16 and decoded.min() <= -1990
    assert np.abs(decoded.astype(np.int64) - original).max() <= max_pixel_error(30)


def test_medcodec_compress_marks_the_dataset_lossy_with_the_real_ratio(signed_ct: pydicom.Dataset) -> None:
    ds = copy.deepcopy(signed_ct)
    old_uid = ds.SOPInstanceUID
    report = medcodec.compress(ds, "dct_teaching", options={"quality": 30})
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    assert report.lossy and report.compressed_bytes > 0
    assert ds.LossyImageCompression == "01"
    assert ds.LossyImageCompressionMethod == LOSSY_METHOD == "MEDCODEC_MMPC"
    # 512 x 512 x 2 bytes over the one MMPC frame (the encapsulation adds only a few bytes)
    assert float(ds.LossyImageCompressionRatio) == pytest.approx(512 * 512 * 2 / len(frame), rel=0.01)
    assert ds.SOPInstanceUID != old_uid


def test_one_stream_per_frame_of_a_real_volume(nm_volume: pydicom.Dataset) -> None:
    ds = copy.deepcopy(nm_volume)
    original = ds.pixel_array.copy()
    ds.compress(DCTTeaching, quality=10, profile="improved")
    frames = list(generate_frames(ds.PixelData, number_of_frames=13))
    assert len(frames) == 13 and all(f.startswith(b"MMPC\x02") for f in frames)
    assert np.abs(ds.pixel_array.astype(np.int64) - original).max() <= max_pixel_error(10) + 5


def test_twelve_bit_output_stays_within_bits_stored(shared_dir: object) -> None:
    ds = pydicom.dcmread(shared_dir / "corpus/dcm_qa_ts/In/1.dcm")  # type: ignore[operator]
    original = ds.pixel_array.copy()
    ds.compress(DCTTeaching, quality=60)
    decoded = ds.pixel_array
    assert decoded.min() >= 0 and decoded.max() <= 4095  # v1 clips to 65535; the adapter to BitsStored
    assert np.abs(decoded.astype(np.int64) - original).max() <= max_pixel_error(60)


def _with_frame(ds: pydicom.Dataset, frame: bytes) -> pydicom.Dataset:
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].is_undefined_length = True
    return ds


def test_frame_of_another_size_is_a_length_mismatch(pydicom_pixels: object) -> None:
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    ds.compress(DCTTeaching, quality=30)
    other = codec.encode(pydicom_pixels("MR_small"), 30)  # type: ignore[operator]
    # pydicom wraps every plugin's failure into one RuntimeError that quotes our DecodeError
    with pytest.raises(RuntimeError, match=r"codec 'dct_teaching'.*length mismatch: .* 64x64 image, "
                                                   r"the dataset declares 128x128"):
        _with_frame(ds, other).pixel_array  # noqa: B018


def test_foreign_frame_names_the_codec_and_the_magic() -> None:
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    ds.compress(DCTTeaching, quality=30)
    with pytest.raises(RuntimeError, match=r"codec 'dct_teaching' \(2\.25\..*\.1\.3\).*wrong magic b'\\xff"):
        _with_frame(ds, b"\xff\xd8\xff\xe0" + bytes(60)).pixel_array  # noqa: B018


def test_bad_options_are_encode_errors() -> None:
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    with pytest.raises(Exception, match="unknown profile 'fast'"):
        ds.compress(DCTTeaching, quality=30, profile="fast")
    with pytest.raises(Exception, match="quality must be from 1 to 65535"):
        ds.compress(DCTTeaching, quality=0)
