"""The rate-distortion study behind ``medcodec mmpc rd``: every image × quality × pipeline, measured.

The pipelines form a ladder from the seed to the improved profile, adding one stage at a time, so the
table shows what each stage buys (bytes) and costs (error, only the deblocking filter changes pixels):

    seed                 row-major int16 → byte RLE → zlib                     (MMPC v1)
    seed-no-rle          the same without the RLE stage (the seed's RLE on/off ablation; v2 header, +4 bytes)
    +zigzag              zig-zag scan inside each block, RLE + zlib
    +dc-prediction       … and DC stored as the difference from the previous block
    +band-planes         … band-major, sign-folded byte planes, no RLE, zlib
    +lzma                … LZMA2 instead of zlib
    improved             … and the deblocking filter (= profile "improved")

Outputs in ``--out``: ``summary.csv`` (one row per image × quality × pipeline), ``ablation_rle.csv``,
``rd_plot.png``, and per image ``<name>_q<Q>_<pipeline>_rec.png`` / ``_err.png`` for the seed and improved
pipelines plus a ``<name>_panel.png`` overview.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from medcodec_plugin_dct_teaching import codec, metrics
from medcodec_plugin_dct_teaching.entropy import EntropyCoder
from medcodec_plugin_dct_teaching.images import Volume, read_volume, to_display

LADDER: tuple[tuple[str, codec.Pipeline], ...] = (
    ("seed", codec.SEED),
    ("seed-no-rle", codec.Pipeline(rle=False)),
    ("+zigzag", codec.Pipeline(zigzag=True)),
    ("+dc-prediction", codec.Pipeline(zigzag=True, dc_prediction=True)),
    ("+band-planes", codec.Pipeline(zigzag=True, dc_prediction=True, band_planes=True, rle=False)),
    ("+lzma", codec.Pipeline(zigzag=True, dc_prediction=True, band_planes=True, rle=False,
                             entropy=EntropyCoder.LZMA)),
    ("improved", codec.IMPROVED),
)
PICTURED = ("seed", "improved")
"""Pipelines whose reconstructions and error maps are written as images."""


@dataclass
class Row:
    image: str
    source: str
    modality: str
    slice_index: int
    rows: int
    columns: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    pipeline: str
    quality: int
    version: int
    bytes: int
    bpp: float
    ratio: float
    rmse: float
    psnr_bits_db: float
    psnr_range_db: float
    max_abs_error: float
    ssim: float
    roi: str
    roi_pixels: int
    roi_rmse: float
    roi_psnr_range_db: float
    roi_max_abs_error: float
    error_map_white: float


@dataclass(frozen=True)
class StudyImage:
    name: str
    source: Path
    modality: str
    slice_index: int
    pixels: npt.NDArray[np.integer]
    volume: Volume


def _study_images(inputs: Sequence[Path]) -> list[StudyImage]:
    """One 2-D image per input (the middle slice of a volume), with unique short names."""
    images: list[StudyImage] = []
    used: set[str] = set()
    for path in inputs:
        volume = read_volume(path)
        index = len(volume.slices) // 2
        modality = str(volume.datasets[0].get("Modality", "")) if volume.datasets else "PNG"
        name = path.stem.split(".")[0] or "image"
        if name.isdigit():  # "1.dcm" says nothing in a table: prefix the modality
            name = f"{modality or 'image'}_{name}"
        while name in used:
            name += "_"
        used.add(name)
        images.append(StudyImage(name, path, modality, index, volume.slices[index], volume))
    return images


def _roi(image: StudyImage, box: tuple[int, int, int, int] | None,
         threshold: float | None) -> tuple[str, npt.NDArray[np.bool_]]:
    if box is not None:
        return f"box {box}", metrics.box_mask(image.pixels.shape, box)
    if threshold is not None:
        slope, intercept = image.volume.rescale
        stored = (threshold - intercept) / slope  # the user gives a modality value (HU for CT)
        return f"> {threshold:g} (modality units)", metrics.body_mask(image.pixels, stored)
    return "Otsu body mask", metrics.body_mask(image.pixels)


def measure(image: StudyImage, quality: int, name: str, pipeline: codec.Pipeline, roi: str,
            mask: npt.NDArray[np.bool_], error_white: float) -> tuple[Row, npt.NDArray[np.integer]]:
    """Encode and decode one image with one pipeline at one quality and compute every metric."""
    volume = image.volume
    stream = codec.encode(image.pixels, quality, bits_allocated=volume.bits_allocated,
                          bits_stored=volume.bits_stored, signed=volume.signed, pipeline=pipeline)
    decoded = codec.decode(stream)
    original = image.pixels
    rows, columns = original.shape
    error = metrics.rmse(original, decoded.pixels)
    span = metrics.dynamic_range(original)
    roi_error = metrics.rmse(original, decoded.pixels, mask)
    row = Row(
        image=image.name, source=str(image.source), modality=image.modality, slice_index=image.slice_index,
        rows=rows, columns=columns, bits_allocated=volume.bits_allocated, bits_stored=volume.bits_stored,
        signed=volume.signed, pipeline=name, quality=quality, version=decoded.header.version,
        bytes=len(stream), bpp=len(stream) * 8 / original.size,
        ratio=original.size * volume.bits_allocated / 8 / len(stream),
        rmse=error, psnr_bits_db=metrics.psnr(error, 2**volume.bits_allocated - 1),
        psnr_range_db=metrics.psnr(error, span), max_abs_error=metrics.max_abs_error(original, decoded.pixels),
        ssim=metrics.ssim(original, decoded.pixels, span), roi=roi, roi_pixels=int(mask.sum()),
        roi_rmse=roi_error, roi_psnr_range_db=metrics.psnr(roi_error, span),
        roi_max_abs_error=metrics.max_abs_error(original, decoded.pixels, mask), error_map_white=error_white)
    return row, decoded.pixels


def _save_gray(path: Path, pixels: npt.NDArray[np.uint8]) -> None:
    from PIL import Image

    Image.fromarray(pixels).save(path)


def run_study(inputs: Sequence[Path], qualities: Sequence[int], out: Path, *,
              roi_box: tuple[int, int, int, int] | None = None, roi_threshold: float | None = None,
              ladder: Sequence[tuple[str, codec.Pipeline]] = LADDER) -> list[Row]:
    """Run the whole study and write every output file; returns the rows of ``summary.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for image in _study_images(inputs):
        roi, mask = _roi(image, roi_box, roi_threshold)
        window = tuple(np.percentile(image.pixels, (1, 99)))
        error_white = max(qualities) / 2  # one scale for every map of this image, so they compare
        pictures: dict[tuple[str, int], npt.NDArray[np.integer]] = {}
        for quality in qualities:
            for name, pipeline in ladder:
                row, decoded = measure(image, quality, name, pipeline, roi, mask, error_white)
                rows.append(row)
                if name in PICTURED:
                    pictures[name, quality] = decoded
                    stem = out / f"{image.name}_q{quality}_{name}"
                    _save_gray(stem.with_name(stem.name + "_rec.png"), to_display(decoded, window))
                    error_map = np.abs(decoded.astype(np.float64) - image.pixels)
                    _save_gray(stem.with_name(stem.name + "_err.png"), to_display(error_map, (0, error_white)))
        _panel(out / f"{image.name}_panel.png", image, qualities, pictures, window, error_white)
    _write_csv(out / "summary.csv", [asdict(r) for r in rows])
    _write_csv(out / "ablation_rle.csv", _rle_ablation(rows))
    rd_plot(rows, out / "rd_plot.png")
    return rows


def _rle_ablation(rows: Sequence[Row]) -> list[dict[str, object]]:
    by_key = {(r.image, r.quality, r.pipeline): r for r in rows}
    table = []
    for r in rows:
        off = by_key.get((r.image, r.quality, "seed-no-rle"))
        if r.pipeline == "seed" and off is not None:
            table.append({"image": r.image, "quality": r.quality, "bytes_rle_on": r.bytes,
                          "bytes_rle_off": off.bytes,
                          "rle_saves_percent": round(100 * (off.bytes - r.bytes) / off.bytes, 2)})
    return table


def _write_csv(path: Path, records: Sequence[dict[str, object]]) -> None:
    with path.open("w", newline="") as handle:
        if not records:
            return
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        for record in records:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in record.items()})


def _matplotlib() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def rd_plot(rows: Sequence[Row], path: Path) -> None:
    """bpp vs PSNR: one row of panels per image, PSNR with the seed's peak (left) and the image's range (right)."""
    plt = _matplotlib()
    images = list(dict.fromkeys(r.image for r in rows))
    pipelines = list(dict.fromkeys(r.pipeline for r in rows))
    fig, axes = plt.subplots(len(images), 2, figsize=(10, 3.2 * len(images)), squeeze=False)
    for axis_row, image in zip(axes, images):
        for pipeline in pipelines:
            points = sorted((r.bpp, r.psnr_bits_db, r.psnr_range_db) for r in rows
                            if r.image == image and r.pipeline == pipeline)
            style = {"seed": "-o", "improved": "-s"}.get(pipeline, "--.")
            bpp = [p[0] for p in points]
            axis_row[0].plot(bpp, [p[1] for p in points], style, label=pipeline, linewidth=1.2, markersize=4)
            axis_row[1].plot(bpp, [p[2] for p in points], style, label=pipeline, linewidth=1.2, markersize=4)
        axis_row[0].set_title(f"{image}: PSNR, peak 2^BitsAllocated-1 (seed)", fontsize=9)
        axis_row[1].set_title(f"{image}: PSNR, peak = image max-min", fontsize=9)
        for axis in axis_row:
            axis.set_xlabel("bits per pixel")
            axis.set_ylabel("PSNR (dB)")
            axis.grid(alpha=0.3)
    axes[0][1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _panel(path: Path, image: StudyImage, qualities: Sequence[int],
           pictures: dict[tuple[str, int], npt.NDArray[np.integer]], window: tuple[float, float],
           error_white: float) -> None:
    """Original and, per quality, the seed reconstruction and both pipelines' error maps."""
    plt = _matplotlib()
    columns = len(qualities) + 1
    fig, axes = plt.subplots(3, columns, figsize=(1.9 * columns, 6), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    axes[0][0].imshow(image.pixels, cmap="gray", vmin=window[0], vmax=window[1])
    axes[0][0].set_title("original", fontsize=8)
    for column, quality in enumerate(qualities, start=1):
        seed, improved = pictures["seed", quality], pictures["improved", quality]
        axes[0][column].imshow(seed, cmap="gray", vmin=window[0], vmax=window[1])
        axes[0][column].set_title(f"seed q{quality}", fontsize=8)
        for row, (label, decoded) in enumerate((("seed", seed), ("improved", improved)), start=1):
            axes[row][column].imshow(np.abs(decoded.astype(np.float64) - image.pixels), cmap="magma", vmin=0,
                                     vmax=error_white)
            axes[row][column].set_title(f"|error| {label} q{quality}", fontsize=7)
    axes[1][0].text(0.5, 0.5, f"error maps:\nwhite = {error_white:g}", ha="center", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)
