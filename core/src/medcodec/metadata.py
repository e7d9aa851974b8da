"""Built-in metadata hook: what pydicom never writes after compression.

After a lossy encode: Lossy Image Compression (0028,2110) = "01", the ratio appended to (0028,2112) and the
method appended to (0028,2114) (the two are multi-valued and stay paired, one value per lossy step), and a new
SOP Instance UID (made by the pipeline before this hook runs). After a lossless encode: nothing is claimed,
the SOP Instance UID is kept, and an existing "01" stays -- once lossy, always lossy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medcodec._hookimpl import hookimpl

if TYPE_CHECKING:
    from pydicom import Dataset

    from medcodec.registry import CodecSpec, EncodeReport


def _append(ds: Dataset, keyword: str, value: str) -> None:
    from pydicom.multival import MultiValue

    existing = ds.get(keyword)
    values: list[str] = []
    if isinstance(existing, MultiValue):
        values = [str(v) for v in existing]
    elif existing not in (None, ""):
        values = [str(existing)]
    values.append(value)
    setattr(ds, keyword, values if len(values) > 1 else value)


def format_ratio(ratio: float) -> str:
    """(0028,2112) is a DS: at most 16 characters."""
    text = f"{ratio:.4f}".rstrip("0").rstrip(".")
    return text[:16]


@hookimpl(trylast=True)
def medcodec_update_metadata(ds: Dataset, spec: CodecSpec, report: EncodeReport) -> None:
    if not report.lossy:
        return
    ds.LossyImageCompression = "01"
    _append(ds, "LossyImageCompressionRatio", format_ratio(report.ratio))
    _append(ds, "LossyImageCompressionMethod", spec.lossy_method or "UNKNOWN")
