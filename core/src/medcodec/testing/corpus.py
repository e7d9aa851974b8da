"""Real images for tests: ``../shared/corpus`` (see its INVENTORY.tsv) and pydicom's own test files."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medcodec.testing.registry import shared_dir


@dataclass(frozen=True)
class CorpusImage:
    path: Path
    modality: str
    bits_stored: int
    samples_per_pixel: int
    signed: bool
    transfer_syntax: str
    decoded_bytes: int


def corpus_inventory() -> list[CorpusImage]:
    """Every image listed in ``shared/corpus/INVENTORY.tsv`` (empty when the folder is absent)."""
    shared = shared_dir()
    if shared is None or not (shared / "corpus" / "INVENTORY.tsv").is_file():
        return []
    root = shared / "corpus"
    with open(root / "INVENTORY.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        CorpusImage(root / row["path"], row["modality_class"], int(row["bits_stored"]),
                    int(row["samples_per_pixel"]), row["pixel_representation"] == "1",
                    row["transfer_syntax_uid"], int(row["decoded_bytes"]))
        for row in rows
    ]


def pydicom_test_images(max_bytes: int = 8_000_000) -> Iterator[Path]:
    """pydicom's bundled test files that hold pixel data pydicom can decode (uncompressed only, for speed)."""
    import pydicom
    from pydicom.data import get_testdata_files

    for name in sorted(get_testdata_files("*.dcm")):
        path = Path(name)
        if path.stat().st_size > max_bytes:
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - some test files are deliberately broken
            continue
        meta = getattr(ds, "file_meta", None)
        ts = getattr(meta, "TransferSyntaxUID", None)
        if ts is None or "Rows" not in ds or not ts.is_transfer_syntax or ts.is_compressed:
            continue
        yield path


def decodable(images: list[CorpusImage], max_bytes: int = 16_000_000) -> Iterator[tuple[CorpusImage, object]]:
    """(image, dataset) for corpus images pydicom decodes, with pixel data no larger than ``max_bytes``."""
    import pydicom

    for image in images:
        if image.decoded_bytes > max_bytes:
            continue
        try:
            ds = pydicom.dcmread(image.path)
            ds.pixel_array  # noqa: B018
        except Exception:  # noqa: BLE001 - the inventory lists formats pydicom cannot decode (JPEG-XL, ...)
            continue
        yield image, ds
