"""Frames coded on several threads give byte-identical results to pydicom's serial path."""

from __future__ import annotations

import copy

import medcodec
import numpy as np
import pytest
from medcodec.frames import decode_frames
from medcodec.testing import make_dataset


@pytest.mark.parametrize("codec", ["deflated_image_frame", "toy_delta_zlib", "jpeg2000_lossless"])
def test_parallel_frames_are_byte_identical_to_serial(codec: str, toy_codec: str) -> None:
    """jpeg2000_lossless is not thread-safe (OpenJPEG): jobs is ignored for it, and nothing crashes."""
    source = make_dataset(96, 80, 6, 12, True, seed=11)
    serial, parallel = copy.deepcopy(source), copy.deepcopy(source)
    medcodec.compress(serial, codec, jobs=1)
    report = medcodec.compress(parallel, codec, jobs=4)
    assert report.verified
    assert parallel.PixelData == serial.PixelData
    assert parallel.file_meta.TransferSyntaxUID == serial.file_meta.TransferSyntaxUID
    spec = medcodec.get_codec(codec)
    plugin = spec.label if spec.thread_safe else ""
    jobs = 4 if spec.thread_safe else 1
    np.testing.assert_array_equal(decode_frames(parallel, jobs=jobs, decoding_plugin=plugin), source.pixel_array)
