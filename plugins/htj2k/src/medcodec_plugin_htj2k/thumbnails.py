"""Thumbnails of HTJ2K datasets decoded from the lowest resolution levels only.

``ds.pixel_array`` must return full-size frames (pydicom sizes its buffer from Rows and Columns), so a
reduced-resolution decode cannot go through it; this is the entry point for viewers and PACS previews.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medcodec.errors import DecodeError

from medcodec_plugin_htj2k import codec, codestream
from medcodec_plugin_htj2k.plugin import SPECS

if TYPE_CHECKING:
    import numpy as np
    from pydicom import Dataset

_NAMES = {spec.transfer_syntax: spec.name for spec in SPECS}


def dataset_thumbnail(ds: Dataset, max_size: int = 128, index: int = 0) -> np.ndarray:
    """Frame ``index`` of an HTJ2K-compressed dataset, no side longer than ``max_size`` (or the lowest
    resolution the codestream has). Only the needed resolution levels are decoded.

    :raises DecodeError: the dataset is not HTJ2K, the frame does not exist, or the codestream is invalid.
    """
    from pydicom.encaps import get_frame

    uid = str(ds.file_meta.TransferSyntaxUID) if "file_meta" in ds.__dict__ else ""
    if uid not in _NAMES:
        raise DecodeError("htj2k", uid or "(none)", "thumbnails need a dataset in an HTJ2K transfer syntax "
                          f"({', '.join(_NAMES)}); decompress it or use ds.pixel_array")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if not 0 <= index < frames:
        raise DecodeError(_NAMES[uid], uid, f"frame index {index} is outside 0-{frames - 1}")
    extended = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths) if "ExtendedOffsetTable" in ds else None
    stream = get_frame(ds.PixelData, index, number_of_frames=frames, extended_offsets=extended)
    try:
        codestream.check_complete(stream, codestream.parse(stream))
        return codec.thumbnail(stream, max_size)
    except (codec.Htj2kCodecError, codestream.CodestreamError) as exc:
        raise DecodeError(_NAMES[uid], uid, str(exc), frame=index) from exc
