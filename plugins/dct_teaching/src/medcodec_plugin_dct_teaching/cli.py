"""``medcodec mmpc …``: the seed's two command-line tools, plus the rate-distortion study.

Registered on the core's ``medcodec`` command by :func:`medcodec_plugin_dct_teaching.plugin.medcodec_register_commands`.
Errors are printed as one line naming the file and the problem, with exit status 1 (click's convention for
``ClickException``); no traceback, and nothing from the DICOM header other than sizes is ever printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from medcodec_plugin_dct_teaching.plugin import DEFAULT_QUALITY

if TYPE_CHECKING:
    from medcodec_plugin_dct_teaching.bitstream import Header

PROFILE_CHOICE = click.Choice(["seed", "improved"])


@click.group(help="The teaching DCT codec (MMPC bitstream): encode, decode, rate-distortion study.")
def mmpc() -> None:
    pass


@mmpc.command(help="Encode a DICOM file, a PNG, or a folder of slices into one .mmpc file (one stream per slice).")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quality", "-q", type=click.IntRange(1, 0xFFFF), default=DEFAULT_QUALITY, show_default=True,
              help="Quantisation step: higher = smaller file, larger error (the seed's meaning).")
@click.option("--profile", type=PROFILE_CHOICE, default="seed", show_default=True,
              help="'seed': byte-identical to the seed (MMPC v1) when v1 loses nothing; 'improved': MMPC v2 "
                   "with zig-zag, DC prediction, band planes, LZMA and deblocking.")
@click.option("--version", "version", type=click.Choice(["auto", "1", "2"]), default="auto", show_default=True,
              help="Force a bitstream version; forcing 1 fails if version 1 would lose data.")
def encode(input_path: Path, output: Path, quality: int, profile: str, version: str) -> None:
    from medcodec_plugin_dct_teaching import codec
    from medcodec_plugin_dct_teaching.images import InputError, read_volume

    if output.resolve() == input_path.resolve():
        raise click.ClickException(f"{output}: refusing to overwrite the input")
    try:
        volume = read_volume(input_path)
        data = codec.encode_volume(volume.slices, quality, bits_allocated=volume.bits_allocated,
                                   bits_stored=volume.bits_stored, signed=volume.signed,
                                   pipeline=codec.PROFILES[profile],
                                   version="auto" if version == "auto" else int(version))
    except (InputError, codec.MMPCError) as exc:
        raise click.ClickException(f"{input_path}: codec 'dct_teaching' (MMPC): {exc}") from exc
    output.write_bytes(data)
    versions = sorted({h.version for h, _ in _headers(data)})
    click.echo(f"{output}: {len(volume.slices)} slice(s), {len(data)} bytes, ratio "
               f"{volume.original_bytes / len(data):.2f}:1, MMPC v{'/'.join(map(str, versions))}, step {quality}")


def _headers(data: bytes) -> list[tuple[Header, bytes]]:
    from medcodec_plugin_dct_teaching.bitstream import split_streams

    return list(split_streams(data))


@mmpc.command(help="Decode an .mmpc file to DICOM (.dcm), 16-bit PNG (.png) or numpy (.npy). Several slices "
                   "become a multi-frame .dcm, numbered PNGs (NAME_0000.png…), one .npy volume, or one DICOM "
                   "per source slice when OUTPUT is a folder and --source is a folder.")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output", type=click.Path(path_type=Path))
@click.option("--source", type=click.Path(exists=True, path_type=Path),
              help="The DICOM file or folder that was encoded: its metadata is kept in a DICOM output.")
def decode(input_path: Path, output: Path, source: Path | None) -> None:
    import numpy as np

    from medcodec_plugin_dct_teaching import codec
    from medcodec_plugin_dct_teaching.dicom_output import build_datasets
    from medcodec_plugin_dct_teaching.images import InputError, read_volume, write_png

    try:
        decoded = codec.decode_all(input_path.read_bytes())
    except codec.MMPCError as exc:
        raise click.ClickException(f"{input_path}: codec 'dct_teaching' (MMPC): {exc}") from exc
    suffix = output.suffix.lower()
    try:
        if suffix == ".npy":
            volume = codec.stack(decoded)
            np.save(output, volume[0] if len(decoded) == 1 else volume)
            written = [output]
        elif suffix == ".png":
            written = [output] if len(decoded) == 1 else [
                output.with_name(f"{output.stem}_{i:04d}.png") for i in range(len(decoded))]
            for path, item in zip(written, decoded):
                write_png(path, item.pixels)
        elif suffix in (".dcm", "") or output.is_dir():
            datasets = build_datasets(decoded, read_volume(source) if source else None)
            if len(datasets) == 1 and suffix == ".dcm":
                written = [output]
            elif suffix == ".dcm":
                raise InputError(f"{output}: the source has {len(datasets)} files, so OUTPUT must be a folder")
            else:
                output.mkdir(parents=True, exist_ok=True)
                written = [output / f"slice_{i:04d}.dcm" for i in range(len(datasets))]
            for path, ds in zip(written, datasets):
                ds.save_as(path, enforce_file_format=True)
        else:
            raise InputError(f"{output}: unknown output type '{suffix}' (use .dcm, .png, .npy or a folder)")
    except (InputError, codec.MMPCError) as exc:
        raise click.ClickException(f"{input_path}: codec 'dct_teaching' (MMPC): {exc}") from exc
    click.echo(f"{input_path}: {len(decoded)} slice(s) -> {', '.join(map(str, written[:3]))}"
               f"{' …' if len(written) > 3 else ''}")


def _qualities(_: click.Context, __: click.Parameter, value: str) -> list[int]:
    try:
        qualities = [int(q) for q in value.split(",") if q.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"'{value}' is not a comma-separated list of integers") from exc
    if not qualities or any(not 1 <= q <= 0xFFFF for q in qualities):
        raise click.BadParameter(f"qualities must be integers from 1 to 65535, got '{value}'")
    return qualities


def _box(_: click.Context, __: click.Parameter, value: str | None) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    parts = value.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise click.BadParameter(f"'{value}' is not X0,Y0,X1,Y1 (pixel columns/rows, end-exclusive)")
    x0, y0, x1, y1 = (int(p) for p in parts)
    return x0, y0, x1, y1


@mmpc.command(help="Rate-distortion study: size, bpp, ratio, RMSE, PSNR (two peaks), max error, SSIM and ROI "
                   "metrics for every INPUT x quality x pipeline; writes summary.csv, ablation_rle.csv, "
                   "rd_plot.png, reconstructions and error maps into --out.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--qualities", default="10,20,30,40,50,60", show_default=True, callback=_qualities,
              help="Comma-separated quantisation steps.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the CSV files and images (created if missing).")
@click.option("--roi-box", callback=_box, default=None, help="ROI rectangle X0,Y0,X1,Y1 instead of the body mask.")
@click.option("--roi-threshold", type=float, default=None,
              help="Body mask threshold in modality units (HU for CT, after rescale); default: Otsu.")
def rd(inputs: tuple[Path, ...], qualities: list[int], out: Path, roi_box: tuple[int, int, int, int] | None,
       roi_threshold: float | None) -> None:
    from medcodec_plugin_dct_teaching import codec
    from medcodec_plugin_dct_teaching.images import InputError
    from medcodec_plugin_dct_teaching.rd import run_study

    try:
        rows = run_study(list(inputs), qualities, out, roi_box=roi_box, roi_threshold=roi_threshold)
    except (InputError, codec.MMPCError, ValueError) as exc:
        raise click.ClickException(f"codec 'dct_teaching' (MMPC) rd: {exc}") from exc
    images = len({r.image for r in rows})
    click.echo(f"{out}: {len(rows)} rows for {images} image(s) x {len(qualities)} qualities -> summary.csv, "
               "ablation_rle.csv, rd_plot.png")


@mmpc.command(help="Follow one 8x8 block (default: the centre one) through every stage, with real numbers, and "
                   "the whole image's size after each stage.")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.option("--quality", "-q", type=click.IntRange(1, 0xFFFF), default=DEFAULT_QUALITY, show_default=True)
@click.option("--block", default=None, help="ROW,COLUMN of the block in the block grid (0-based).")
def explain(input_path: Path, quality: int, block: str | None) -> None:
    from medcodec_plugin_dct_teaching.explain import explain as explain_block
    from medcodec_plugin_dct_teaching.images import InputError, read_volume

    try:
        position = None
        if block is not None:
            parts = block.split(",")
            if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
                raise click.BadParameter(f"'{block}' is not ROW,COLUMN", param_hint="--block")
            position = (int(parts[0]), int(parts[1]))
        volume = read_volume(input_path)
        click.echo(explain_block(volume.slices[len(volume.slices) // 2], quality, position))
    except (InputError, ValueError) as exc:
        raise click.ClickException(f"{input_path}: codec 'dct_teaching' (MMPC) explain: {exc}") from exc
