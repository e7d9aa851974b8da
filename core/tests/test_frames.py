"""Frames coded on several threads give byte-identical results to pydicom's serial path."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import medcodec
from medcodec.frames import decode_frames
from medcodec.testing import make_dataset


@pytest.mark.parametrize("codec", ["jpeg_ls_lossless", "jpeg2000_lossless", "rle_lossless", "deflated_image_frame"])
def test_parallel_frames_are_byte_identical_to_serial(codec: str) -> None:
    source = make_dataset(96, 80, 6, 12, True, seed=11)
    serial, parallel = copy.deepcopy(source), copy.deepcopy(source)
    medcodec.compress(serial, codec, jobs=1)
    report = medcodec.compress(parallel, codec, jobs=4)
    assert report.verified
    assert parallel.PixelData == serial.PixelData
    assert parallel.file_meta.TransferSyntaxUID == serial.file_meta.TransferSyntaxUID
    np.testing.assert_array_equal(decode_frames(parallel, jobs=4), serial.pixel_array)
    np.testing.assert_array_equal(decode_frames(parallel, jobs=4), source.pixel_array)
