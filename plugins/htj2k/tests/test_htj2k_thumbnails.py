"""Dataset thumbnails from reduced-resolution decodes."""

from __future__ import annotations

import medcodec
import numpy as np
import pytest
from medcodec_plugin_htj2k import codec
from medcodec_plugin_htj2k.plugin import HTJ2KLosslessRPCL
from medcodec_plugin_htj2k.thumbnails import dataset_thumbnail


def test_thumbnail_of_each_frame_is_a_small_version_of_it(real_dataset, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    medcodec.install()
    ds = real_dataset("emri_small.dcm")  # 10 frames, 64x64
    frames = ds.pixel_array.copy()
    ds.compress(HTJ2KLosslessRPCL)
    reduces: list[int] = []
    original = codec.decode
    monkeypatch.setattr(codec, "decode", lambda stream, **kw: reduces.append(kw.get("reduce", 0)) or
                        original(stream, **kw))
    for index in (0, 9):
        thumb = dataset_thumbnail(ds, max_size=16, index=index)
        assert thumb.shape == (16, 16)
        block_mean = frames[index].reshape(16, 4, 16, 4).mean(axis=(1, 3))
        assert np.corrcoef(block_mean.ravel(), thumb.ravel().astype(float))[0, 1] > 0.8
        assert thumb.max() < 2 * frames[index].max(), "wrapped dark pixels (65535 - k) would show as white"
    assert reduces == [2, 2], "the two finest resolution levels must be skipped, not decoded"


def test_thumbnail_errors(real_dataset) -> None:
    ds = real_dataset("CT_small.dcm")
    with pytest.raises(medcodec.DecodeError, match="thumbnails need a dataset in an HTJ2K transfer syntax"):
        dataset_thumbnail(ds)
    medcodec.install()
    ds.compress(HTJ2KLosslessRPCL)
    with pytest.raises(medcodec.DecodeError, match="codec 'htj2k_lossless_rpcl'.*frame index 3 is outside 0-0"):
        dataset_thumbnail(ds, index=3)
