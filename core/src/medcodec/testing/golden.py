"""Golden bitstreams: frozen encoded frames and the SHA-256 of what they must decode to.

``plugins/<p>/tests/golden/MANIFEST.json``::

    {"codec": "mic", "frames": [{"file": "ct16s.bin", "rows": 512, "columns": 512, "samples_per_pixel": 1,
      "bits_allocated": 16, "bits_stored": 16, "pixel_representation": 1,
      "photometric_interpretation": "MONOCHROME2", "stream_sha256": "...", "pixels_sha256": "..."}]}

The files are never regenerated silently: only ``pytest --medcodec-regen-golden`` (or an explicit call to
:func:`write_golden`) writes them, and the conformance test then fails once, asking for the diff to be reviewed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MANIFEST = "MANIFEST.json"


@dataclass(frozen=True)
class GoldenFrame:
    file: str
    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    photometric_interpretation: str
    stream_sha256: str
    pixels_sha256: str


def sha256(data: bytes | np.ndarray) -> str:
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
    return hashlib.sha256(data).hexdigest()


def load_manifest(directory: Path) -> tuple[str, list[GoldenFrame]]:
    path = Path(directory) / MANIFEST
    data = json.loads(path.read_text())
    return data["codec"], [GoldenFrame(**entry) for entry in data["frames"]]


def decode_golden(frame: GoldenFrame, stream: bytes, transfer_syntax: str) -> np.ndarray:
    """Decode one golden frame through pydicom (the path users take)."""
    from pydicom import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate

    from medcodec._pydicom import transfer_syntax as ts

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts(transfer_syntax)
    ds.Rows, ds.Columns = frame.rows, frame.columns
    ds.SamplesPerPixel = frame.samples_per_pixel
    ds.BitsAllocated, ds.BitsStored = frame.bits_allocated, frame.bits_stored
    ds.HighBit = frame.bits_stored - 1
    ds.PixelRepresentation = frame.pixel_representation
    ds.PhotometricInterpretation = frame.photometric_interpretation
    if frame.samples_per_pixel > 1:
        ds.PlanarConfiguration = 0
    ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return ds.pixel_array


def write_golden(directory: Path, codec: str, transfer_syntax: str, entries: list[tuple[str, bytes, dict[str, object]]]
                 ) -> list[GoldenFrame]:
    """Write frames and a MANIFEST. ``entries``: (file name, encoded frame, image attributes without hashes)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frames = []
    for name, stream, attrs in entries:
        (directory / name).write_bytes(stream)
        partial = GoldenFrame(file=name, stream_sha256=sha256(stream), pixels_sha256="", **attrs)  # type: ignore[arg-type]
        pixels = decode_golden(partial, stream, transfer_syntax)
        frames.append(GoldenFrame(**{**asdict(partial), "pixels_sha256": sha256(pixels)}))
    (directory / MANIFEST).write_text(json.dumps({"codec": codec, "frames": [asdict(f) for f in frames]},
                                                 indent=1) + "\n")
    return frames
