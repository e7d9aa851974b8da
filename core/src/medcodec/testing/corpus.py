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
                    row["transfer_syntax_uid"], int(row["decoded_bytes"] or 0))
        for row in rows
    ]


def pydicom_test_files() -> list[Path]:
    """pydicom's bundled test files, plus pydicom-data's when installed -- read from disk, never downloaded
    (``get_testdata_files`` may try the network, which CI does not have)."""
    import pydicom.data

    roots = [Path(pydicom.data.__file__).parent / "test_files"]
    try:
        import data_store  # pydicom-data's package

        roots.append(Path(data_store.__file__).parent / "data")
    except ImportError:
        pass
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*.dcm"))


def pydicom_test_images(max_bytes: int = 8_000_000) -> Iterator[Path]:
    """Uncompressed test files with pixel data (compressed ones are pydicom's decoder tests, not sources)."""
    import pydicom

    for path in pydicom_test_files():
        if path.stat().st_size > max_bytes:
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001, S112 - some test files are deliberately broken
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
        except Exception:  # noqa: BLE001, S112 - the inventory lists formats pydicom cannot decode (JPEG-XL)
            continue
        yield image, ds
