"""``medcodec demo``: the README's main job -- compress sample images with every available codec.

It uses the images that ship with pydicom (and ``../shared/corpus`` or any folder given with ``--corpus``),
encodes each with every codec that can take it (through the same pipeline as ``medcodec compress``: policy,
verification, metadata), decodes the result again through pydicom's file API, and prints per codec the
aggregate ratio, encode and decode speed, and how many results verified (bit-exact, or within their bound).
"""

from __future__ import annotations

import io
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from pydicom import Dataset


@dataclass
class CodecTally:
    images: int = 0
    verified: int = 0
    raw_bytes: int = 0
    compressed_bytes: int = 0
    encode_seconds: float = 0.0
    decode_seconds: float = 0.0
    max_error: float = 0.0
    min_psnr: float | None = None
    failures: list[str] = field(default_factory=list)


def sample_datasets(corpus: Path | None, limit: int) -> Iterator[tuple[str, Dataset]]:
    """(label, dataset) for pydicom's example images, then up to ``limit`` native images of ``corpus``."""
    import pydicom
    from pydicom import examples

    for name in ("ct", "mr", "overlay", "rgb_color", "rt_dose", "palette_color"):
        ds = getattr(examples, name)
        if "PixelData" in ds:
            yield f"pydicom:{name}", ds
    if corpus is None:
        return
    count = 0
    for path in sorted(corpus.rglob("*.dcm")):
        if count >= limit:
            break
        try:
            ds = pydicom.dcmread(path)
            if "PixelData" not in ds or ds.file_meta.TransferSyntaxUID.is_compressed:
                continue
            ds.pixel_array  # noqa: B018 - skip images pydicom itself cannot decode
        except Exception:  # noqa: BLE001, S112 - the demo skips unreadable files, the CLI reports them
            continue
        count += 1
        yield f"corpus:{path.relative_to(corpus)}", ds


def default_corpus() -> Path | None:
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "corpus"
        if candidate.is_dir():
            return candidate
    return None


def run_demo(corpus: Path | None, limit: int) -> dict[str, CodecTally]:
    import copy

    from pydicom import dcmread
    from pydicom.pixels.utils import pixel_array

    import medcodec
    from medcodec.pipeline import compress
    from medcodec.registry import image_kind

    medcodec.install()
    tallies: dict[str, CodecTally] = defaultdict(CodecTally)
    from medcodec._pydicom import coder_status

    codecs = [spec for spec in medcodec.list_codecs() if spec.encoder and coder_status(spec)[0]]
    for label, original in sample_datasets(corpus, limit):
        for spec in codecs:
            if spec.supports(**image_kind(original)):
                continue
            tally = tallies[spec.name]
            ds = copy.deepcopy(original)
            start = time.perf_counter()
            try:
                report = compress(ds, spec.name)
            except medcodec.MedcodecError as exc:
                tally.failures.append(f"{label}: {exc}")
                continue
            tally.encode_seconds += time.perf_counter() - start
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            buffer.seek(0)
            start = time.perf_counter()
            pixel_array(buffer)
            tally.decode_seconds += time.perf_counter() - start
            buffer.seek(0)
            assert dcmread(buffer).file_meta.TransferSyntaxUID == spec.transfer_syntax
            tally.images += 1
            tally.verified += int(report.verified)
            tally.raw_bytes += report.original_bytes
            tally.compressed_bytes += report.compressed_bytes
            tally.max_error = max(tally.max_error, report.max_abs_error or 0.0)
            if report.psnr is not None:
                tally.min_psnr = report.psnr if tally.min_psnr is None else min(tally.min_psnr, report.psnr)
    return dict(tallies)


@click.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Also use native images from this folder (default: ../shared/corpus when present).")
@click.option("--limit", default=12, show_default=True, help="At most this many corpus images.")
@click.option("--no-corpus", is_flag=True, help="Use only pydicom's example images.")
def demo(corpus: Path | None, limit: int, no_corpus: bool) -> None:
    """Compress sample images with every available codec; print ratio, speed and verification per codec."""
    from rich.console import Console
    from rich.table import Table

    from medcodec.cli import doctor_line

    if corpus is None and not no_corpus:
        corpus = default_corpus()
    console = Console(width=None if sys.stdout.isatty() else 130)
    console.print(doctor_line())
    tallies = run_demo(None if no_corpus else corpus, limit)
    table = Table(title="medcodec demo: every available codec on sample images (encode = policy + encode + "
                        "verify; decode = pydicom.pixels.pixel_array on the written file)")
    for column in ("codec", "images", "ratio", "encode MB/s", "decode MB/s", "verified", "max error",
                   "min PSNR dB", "failures"):
        table.add_column(column, justify="right" if column != "codec" else "left")
    for name, t in sorted(tallies.items()):
        mb = t.raw_bytes / 1e6
        table.add_row(
            name, str(t.images),
            f"{t.raw_bytes / t.compressed_bytes:.2f}" if t.compressed_bytes else "-",
            f"{mb / t.encode_seconds:.1f}" if t.encode_seconds else "-",
            f"{mb / t.decode_seconds:.1f}" if t.decode_seconds else "-",
            f"{t.verified}/{t.images}", f"{t.max_error:g}",
            "lossless" if t.min_psnr is None else f"{t.min_psnr:.1f}", str(len(t.failures)),
        )
    console.print(table)
    for name, t in sorted(tallies.items()):
        for failure in t.failures:
            console.print(f"[yellow]{name}[/]: {failure}", highlight=False)
    if corpus is not None and not no_corpus:
        console.print(f"corpus: {corpus}")
