"""Encode or decode the frames of one multi-frame dataset on several threads.

pydicom codes frames one after the other. Codecs whose adapter declares ``CodecSpec.thread_safe`` (they
release the GIL and share no state: the Rust cores, zlib) have their frames coded on a thread pool, using every
core. The result is byte-identical to pydicom's serial path: the same encoder is called for each frame, and the
frames are encapsulated in order exactly as ``Dataset.compress`` does. Other codecs stay serial: two threads
decoding at once through pylibjpeg-openjpeg crash the interpreter (measured here).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pydicom import Dataset


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def encode_frames(ds: Dataset, uid: Any, arr: np.ndarray, *, encoding_plugin: str = "", jobs: int = 0,
                  **options: Any) -> None:
    """Like ``ds.compress(uid, arr, generate_instance_uid=False, ...)``, with frames encoded in parallel."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.encaps import encapsulate, encapsulate_extended
    from pydicom.pixels.encoders.base import get_encoder
    from pydicom.pixels.utils import as_pixel_options
    from pydicom.valuerep import VR

    frames = int(ds.get("NumberOfFrames", 1) or 1)
    jobs = jobs or default_jobs()
    if frames < 2 or jobs < 2:
        ds.compress(uid, arr, encoding_plugin=encoding_plugin, generate_instance_uid=False, **options)
        return
    encoder = get_encoder(uid)
    opts = as_pixel_options(ds, **options)

    def encode(index: int) -> bytes:
        return encoder.encode(arr, index=index, encoding_plugin=encoding_plugin, **opts)

    with ThreadPoolExecutor(max_workers=min(jobs, frames)) as pool:
        encoded = list(pool.map(encode, range(frames)))
    total = (frames - 1) * 8 + sum(len(f) for f in encoded[:-1])
    if total > 2**32 - 1:  # the Basic Offset Table cannot address it: use the Extended Offset Table
        ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = encapsulate_extended(encoded)
    else:
        ds.PixelData = encapsulate(encoded)
    element = ds["PixelData"]
    element.is_undefined_length = True
    element.VR = VR.OB
    if "file_meta" not in ds.__dict__:
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid


def decode_frames(ds: Dataset, *, jobs: int = 0, **options: Any) -> np.ndarray:
    """``ds.pixel_array`` with the frames decoded in parallel (same values, same shape)."""
    from pydicom.pixels.utils import pixel_array

    frames = int(ds.get("NumberOfFrames", 1) or 1)
    jobs = jobs or default_jobs()
    if frames < 2 or jobs < 2:
        return pixel_array(ds, **options)
    with ThreadPoolExecutor(max_workers=min(jobs, frames)) as pool:
        decoded = list(pool.map(lambda i: pixel_array(ds, index=i, **options), range(frames)))
    return np.stack(decoded)
