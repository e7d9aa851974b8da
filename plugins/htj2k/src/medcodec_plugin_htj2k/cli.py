"""``medcodec htj2k ...``: inspect HTJ2K frames against the DICOM rules, and write thumbnails.

Registered on the core's ``medcodec`` command by :func:`medcodec_plugin_htj2k.plugin.medcodec_register_commands`.
Output is JSON (one object per file) so PACS scripts can read it; errors are one line with exit status 1.
Nothing from the DICOM header other than sizes and UIDs of syntaxes is printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group(help="HTJ2K (JPEG 2000 Part 15): check frames against the DICOM rules, write thumbnails.")
def htj2k() -> None:
    pass


@htj2k.command(help="Print, as JSON, each frame's codestream facts and what breaks its syntax's DICOM rules.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def info(path: Path) -> None:
    import pydicom
    from pydicom.encaps import generate_frames

    from medcodec_plugin_htj2k import codestream
    from medcodec_plugin_htj2k.plugin import SPECS, HTJ2KLosslessRPCL

    ds = pydicom.dcmread(path)
    uid = str(ds.file_meta.TransferSyntaxUID)
    spec = next((s for s in SPECS if s.transfer_syntax == uid), None)
    if spec is None:
        raise click.ClickException(f"'{path}': transfer syntax {uid} is not an HTJ2K syntax")
    frames = []
    count = int(ds.get("NumberOfFrames", 1) or 1)
    for index, frame in enumerate(generate_frames(ds.PixelData, number_of_frames=count)):
        try:
            facts = codestream.parse(frame)
            codestream.check_complete(frame, facts)
        except codestream.CodestreamError as exc:
            frames.append({"frame": index, "error": str(exc)})
            continue
        frames.append({
            "frame": index, "bytes": len(frame), "columns": facts.width, "rows": facts.height,
            "components": len(facts.components), "precision": facts.components[0].precision,
            "signed": facts.components[0].signed, "ht": facts.is_ht, "reversible": facts.reversible,
            "progression": facts.progression, "layers": facts.layers, "decompositions": facts.decompositions,
            "tlm": facts.has_tlm, "colour_transform": facts.colour_transform,
            "problems": codestream.dicom_problems(facts, lossless=spec.lossless, rpcl=uid == HTJ2KLosslessRPCL),
        })
    click.echo(json.dumps({"file": str(path), "codec": spec.name, "transfer_syntax": uid, "frames": frames},
                          indent=1))


@htj2k.command(help="Write a PNG thumbnail of one frame, decoded from its lowest resolution levels only.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--size", type=click.IntRange(1), default=128, show_default=True, help="Longest side at most.")
@click.option("--frame", "index", type=click.IntRange(0), default=0, show_default=True)
def thumbnail(path: Path, output: Path, size: int, index: int) -> None:
    import imagecodecs
    import numpy as np
    import pydicom
    from medcodec.errors import DecodeError

    from medcodec_plugin_htj2k.thumbnails import dataset_thumbnail

    ds = pydicom.dcmread(path)
    try:
        image = dataset_thumbnail(ds, max_size=size, index=index)
    except DecodeError as exc:
        raise click.ClickException(f"'{path}': {exc}") from exc
    # Stretch the stored range to 8 bits for viewing (a preview, not a diagnostic rendering).
    values = image.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    scaled = np.zeros_like(values) if hi == lo else (values - lo) * (255.0 / (hi - lo))
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 255.0 - scaled
    output.write_bytes(imagecodecs.png_encode(np.rint(scaled).astype(np.uint8)))
    click.echo(json.dumps({"file": str(output), "rows": image.shape[0], "columns": image.shape[1]}))
