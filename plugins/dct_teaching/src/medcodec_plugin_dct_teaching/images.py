"""Reading the command line's inputs (DICOM, PNG, folders of slices) and writing its outputs.

An input becomes a :class:`Volume`: a list of 2-D integer slices that share a sample format, plus the
DICOM datasets they came from (when they came from DICOM), so a decoded DICOM can keep its source's metadata.
Every error names the file and the problem; nothing here ever overwrites an input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from pydicom import Dataset

PNG_SUFFIXES = (".png",)


class InputError(ValueError):
    """An input file cannot be used; the message starts with the file name."""


@dataclass
class Volume:
    """Slices (each ``rows × columns``) and their common sample format."""

    slices: list[npt.NDArray[np.integer]]
    bits_allocated: int
    bits_stored: int
    signed: bool
    sources: list[Path] = field(default_factory=list)
    datasets: list[Dataset] = field(default_factory=list)
    rescale: tuple[float, float] = (1.0, 0.0)  # (slope, intercept) of the first DICOM, for ROI thresholds

    @property
    def original_bytes(self) -> int:
        """Uncompressed size of all slices at BitsAllocated: the numerator of a compression ratio."""
        return sum(s.size for s in self.slices) * self.bits_allocated // 8


def _is_dicom(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(132)
    return head[128:132] == b"DICM" or path.suffix.lower() in (".dcm", ".dicom")


def _read_dicom(path: Path) -> Volume:
    import pydicom

    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types; the message says which file and why
        raise InputError(f"{path}: cannot read DICOM pixel data ({exc})") from exc
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise InputError(f"{path}: MMPC codes greyscale images, this one has {ds.SamplesPerPixel} samples per "
                         f"pixel ({ds.get('PhotometricInterpretation', '?')})")
    if ds.BitsAllocated not in (8, 16):
        raise InputError(f"{path}: unsupported bit depth, BitsAllocated {ds.BitsAllocated} (MMPC: 8 or 16)")
    frames = pixels if pixels.ndim == 3 else pixels[np.newaxis]
    return Volume([np.asarray(f) for f in frames], int(ds.BitsAllocated), int(ds.BitsStored),
                  int(ds.PixelRepresentation) == 1, [path] * len(frames), [ds],
                  (float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)))


def _read_png(path: Path) -> Volume:
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode = image.mode
            pixels = np.array(image)
    except Exception as exc:
        raise InputError(f"{path}: cannot read the PNG ({exc})") from exc
    if pixels.ndim != 2:
        raise InputError(f"{path}: MMPC codes greyscale images, this PNG is {mode} with {pixels.shape[2]} channels")
    if pixels.dtype == np.uint8:
        return Volume([pixels], 8, 8, False, [path])
    if pixels.size and (pixels.min() < 0 or pixels.max() > 0xFFFF):
        raise InputError(f"{path}: unsupported bit depth, values {pixels.min()}..{pixels.max()} need more than "
                         "16 bits")
    return Volume([pixels.astype(np.uint16)], 16, 16, False, [path])


def _slice_order(volume: Volume) -> float:
    """Sort key of a one-slice DICOM volume: position along the slice normal, else InstanceNumber."""
    ds = volume.datasets[0]
    position, orientation = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    if position is not None and orientation is not None and len(orientation) == 6:
        normal = np.cross(np.array(orientation[:3], float), np.array(orientation[3:], float))
        return float(np.dot(normal, np.array(position, float)))
    return float(ds.get("InstanceNumber", 0) or 0)


def read_volume(path: Path) -> Volume:
    """Read a DICOM file (one or more frames), a PNG, or a folder of either (sorted into a volume)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        parts = [read_volume(p) for p in files if p.suffix.lower() in PNG_SUFFIXES or _is_dicom(p)]
        if not parts:
            raise InputError(f"{path}: the folder holds no DICOM or PNG slices")
        if all(part.datasets for part in parts):
            parts.sort(key=_slice_order)
        first = parts[0]
        for part in parts[1:]:
            if (part.slices[0].shape, part.bits_allocated, part.signed) != (
                    first.slices[0].shape, first.bits_allocated, first.signed):
                raise InputError(f"{part.sources[0]}: slice differs from {first.sources[0]} in size or sample "
                                 "format; a volume needs identical slices")
        return Volume([s for p in parts for s in p.slices], first.bits_allocated,
                      max(p.bits_stored for p in parts), first.signed, [s for p in parts for s in p.sources],
                      [d for p in parts for d in p.datasets], first.rescale)
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder")
    if path.suffix.lower() in PNG_SUFFIXES:
        return _read_png(path)
    if _is_dicom(path):
        return _read_dicom(path)
    raise InputError(f"{path}: not a DICOM file, a PNG or a folder of slices")


def write_png(path: Path, pixels: npt.NDArray[np.integer]) -> None:
    """Write a greyscale PNG: 8-bit for uint8, 16-bit otherwise; refuses values a PNG cannot hold."""
    from PIL import Image

    if pixels.dtype.itemsize == 1 and pixels.dtype.kind == "u":
        Image.fromarray(pixels).save(path)
        return
    if pixels.size and pixels.min() < 0:
        raise InputError(f"{path}: a PNG cannot hold the negative samples of this image (minimum "
                         f"{pixels.min()}); write .npy or .dcm instead")
    Image.fromarray(pixels.astype(np.uint16)).save(path)


def to_display(pixels: npt.NDArray[np.integer] | npt.NDArray[np.floating],
               window: tuple[float, float] | None = None) -> npt.NDArray[np.uint8]:
    """Map an image to 8 bits for viewing: a given (low, high) window, else its 1st-99th percentile."""
    low, high = window if window is not None else np.percentile(pixels, (1, 99))
    scaled = (np.asarray(pixels, dtype=np.float64) - low) / max(float(high - low), 1e-9)
    return np.asarray(np.clip(np.round(scaled * 255), 0, 255), dtype=np.uint8)
