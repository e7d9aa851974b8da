"""The archive commands of ``medcodec``: compress, decompress, transcode, verify, info, report and policy.

Every command takes ``--json`` (machine-readable output on stdout; progress and messages go to stderr). Batch
commands walk folders recursively, list the files that are not DICOM, report each file's failure and go on,
and exit with status 1 when any file failed or was refused.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import click

PROFILES_HELP = "Quality profile: diagnostic (lossless, the default), viewing (visually lossless) or thumbnail."


def _jsonable(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=_jsonable, allow_nan=False))


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _parse_options(values: Sequence[str]) -> dict[str, Any]:
    """``--option NAME=VALUE``; VALUE is parsed as JSON when it can be (numbers, lists), else kept as text."""
    options: dict[str, Any] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"'{item}' is not NAME=VALUE", param_hint="--option")
        try:
            options[name] = json.loads(raw)
        except json.JSONDecodeError:
            options[name] = raw
    return options


def _use_policy(policy: str | None) -> None:
    from medcodec.policy import PolicyError, use_policy

    try:
        use_policy(policy)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from exc


# --- batch commands ------------------------------------------------------------------------------------------


def batch_options(func: Callable[..., Any]) -> Callable[..., Any]:
    decorators = [
        click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)),
        click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
                     help="Output folder; it mirrors the tree under each source folder."),
        click.option("--in-place", is_flag=True, help="Replace each original, only after its result is verified."),
        click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
                     help="Worker processes."),
        click.option("--resume", is_flag=True, help="Skip files a previous (interrupted) run finished."),
        click.option("--overwrite", is_flag=True, help="Replace existing outputs instead of failing."),
        click.option("--dry-run", is_flag=True, help="Decide and report, write nothing."),
        click.option("--audit", "audit_path", type=click.Path(dir_okay=False, path_type=Path),
                     help=f"Audit trail (JSONL); default OUTPUT/{'medcodec-audit.jsonl'} or ./medcodec-audit.jsonl."),
        click.option("--cross-check", is_flag=True,
                     help="Also decode every result with GDCM/DCMTK where they support the syntax."),
        click.option("--json", "as_json", is_flag=True, help="Print the results as JSON."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _run_batch(sources: Sequence[Path], output: Path | None, in_place: bool, jobs: int, as_json: bool,
               audit_path: Path | None, settings: Any, command: str) -> None:
    from medcodec import archive
    from medcodec.archive import AUDIT_NAME, ArchiveError

    if in_place == (output is not None):
        raise click.UsageError("give exactly one of -o/--output DST and --in-place")
    if output is not None:
        out = output.resolve()
        for source in sources:
            src = source.resolve()
            if src.is_dir() and (out == src or src in out.parents):
                raise click.UsageError(f"output folder '{output}' is inside source folder '{source}'")
    audit = audit_path or ((output / AUDIT_NAME) if output is not None else Path.cwd() / AUDIT_NAME)
    settings = replace(settings, audit_path=str(audit), in_place=in_place)
    try:
        the_plan = archive.plan(sources, None if in_place else output)
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    removed = 0 if settings.dry_run else archive.remove_stale_temporaries(the_plan.stale_temporaries)

    console = _stderr_console()
    started = time.perf_counter()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                  disable=not console.is_terminal) as progress:
        bar = progress.add_task(command, total=len(the_plan.tasks))

        def on_result(result: Any) -> None:
            progress.advance(bar)
            if result.outcome in ("failed", "refused") and console.is_terminal:  # the summary repeats it
                progress.console.print(f"[red]{result.outcome}[/]: {result.label}: {result.message}")

        results = archive.run(the_plan.tasks, settings, jobs=jobs, on_result=on_result)
    summary = archive.summarize(results, the_plan, time.perf_counter() - started)
    results.sort(key=lambda r: r.label)
    bad = [r for r in results if r.outcome in ("failed", "refused")]
    if as_json:
        _echo_json({
            "command": command, "settings": asdict(settings), "jobs": jobs, "audit": str(audit),
            "summary": summary, "files": [r.as_dict() for r in results], "not_dicom": the_plan.not_dicom,
            "removed_temporaries": removed,
        })
    else:
        _print_batch(console, command, results, summary, the_plan.not_dicom, str(audit), settings.dry_run)
    sys.exit(1 if bad else 0)


def _print_batch(console: Any, command: str, results: Sequence[Any], summary: dict[str, Any],
                 not_dicom: Sequence[str], audit: str, dry_run: bool) -> None:
    from rich.table import Table

    out = _stdout_console()
    table = Table(title=f"medcodec {command}")
    for column in ("file", "outcome", "codec", "ratio", "PSNR", "max err", "ms"):
        table.add_column(column, justify="left" if column in ("file", "outcome", "codec") else "right")
    for r in results:
        table.add_row(r.label, r.outcome, r.codec or "-", f"{r.ratio:.2f}" if r.ratio else "-",
                      f"{r.psnr:.1f}" if r.psnr else "-", f"{r.max_abs_error:g}" if r.max_abs_error is not None else "-",
                      f"{r.seconds * 1000:.0f}")
    out.print(table)
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(summary["outcomes"].items())) or "no DICOM files"
    ratio = f", overall ratio {summary['ratio']:.2f}" if summary["ratio"] else ""
    out.print(f"{summary['files']} files ({outcomes}){ratio} in {summary['seconds']:.1f} s")
    for r in results:
        if r.outcome in ("failed", "refused"):
            out.print(f"[red]{r.outcome}[/]: {r.label}: {r.message}")
    if not_dicom:
        out.print(f"skipped {len(not_dicom)} non-DICOM file(s): " + ", ".join(not_dicom))
    if not dry_run:
        out.print(f"audit trail: {audit}")


def _stdout_console() -> Any:
    import shutil

    from rich.console import Console

    # Not a terminal (a pipe, a log file): wide enough that file and codec names are not cut.
    return Console(highlight=False, width=None if sys.stdout.isatty() else max(shutil.get_terminal_size().columns, 160))


def encoding_options(func: Callable[..., Any]) -> Callable[..., Any]:
    decorators = [
        click.option("--profile", type=str, default=None, help=PROFILES_HELP),
        click.option("--policy", "policy_file", help="Policy TOML file or preset name (see 'medcodec policy presets')."),
        click.option("--option", "option_values", multiple=True, metavar="NAME=VALUE",
                     help="Encoding option, repeatable."),
        click.option("--allow-lossy-recompression", is_flag=True, help="Permit a lossy encode of already lossy data."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _encoding_settings(operation: str, codec: str | None, to_uid: str | None, profile: str | None,
                       policy_file: str | None, option_values: Sequence[str], allow_lossy_recompression: bool,
                       resume: bool, overwrite: bool, dry_run: bool, cross_check: bool) -> Any:
    """The settings of ``compress``/``transcode``; an explicit lossy codec gets the 'viewing' thresholds unless
    another profile is named."""
    from medcodec import get_codec
    from medcodec.archive import NATIVE_SYNTAXES, BatchSettings
    from medcodec.errors import UnknownCodecError

    _use_policy(policy_file)
    wanted = codec or (to_uid if to_uid not in NATIVE_SYNTAXES else None)
    if wanted:
        try:
            spec = get_codec(wanted)
        except UnknownCodecError as exc:
            if to_uid:
                raise click.ClickException(f"no codec writes transfer syntax '{to_uid}'; native targets: "
                                           f"{', '.join(NATIVE_SYNTAXES)}. {exc}") from exc
            raise click.ClickException(str(exc)) from exc
        profile = profile or ("diagnostic" if spec.lossless else "viewing")
    return BatchSettings(operation, codec=codec, to_uid=to_uid, profile=profile or "diagnostic",
                         options=_parse_options(option_values), allow_lossy_recompression=allow_lossy_recompression,
                         policy=policy_file, resume=resume, overwrite=overwrite, dry_run=dry_run,
                         cross_check=cross_check)


@click.command()
@batch_options
@click.option("--codec", help="Codec name (see 'medcodec plugins'); default: chosen by the policy.")
@encoding_options
def compress(sources: tuple[Path, ...], output: Path | None, in_place: bool, jobs: int, resume: bool,
             overwrite: bool, dry_run: bool, audit_path: Path | None, cross_check: bool, as_json: bool,
             codec: str | None, profile: str | None, policy_file: str | None, option_values: tuple[str, ...],
             allow_lossy_recompression: bool) -> None:
    """Compress DICOM files and folders (lossless 'diagnostic' profile unless told otherwise)."""
    settings = _encoding_settings("compress", codec, None, profile, policy_file, option_values,
                                  allow_lossy_recompression, resume, overwrite, dry_run, cross_check)
    _run_batch(sources, output, in_place, jobs, as_json, audit_path, settings, "compress")


@click.command()
@batch_options
def decompress(sources: tuple[Path, ...], output: Path | None, in_place: bool, jobs: int, resume: bool,
               overwrite: bool, dry_run: bool, audit_path: Path | None, cross_check: bool, as_json: bool) -> None:
    """Decompress DICOM files and folders to Explicit VR Little Endian (verified pixel for pixel)."""
    from medcodec.archive import BatchSettings

    settings = BatchSettings("decompress", resume=resume, overwrite=overwrite, dry_run=dry_run,
                             cross_check=cross_check)
    _run_batch(sources, output, in_place, jobs, as_json, audit_path, settings, "decompress")


@click.command()
@batch_options
@click.option("--to", "to_uid", required=True,
              help="Target transfer syntax UID (a codec's, or native 1.2.840.10008.1.2[.1]).")
@encoding_options
def transcode(sources: tuple[Path, ...], output: Path | None, in_place: bool, jobs: int, resume: bool,
              overwrite: bool, dry_run: bool, audit_path: Path | None, cross_check: bool, as_json: bool,
              to_uid: str, profile: str | None, policy_file: str | None, option_values: tuple[str, ...],
              allow_lossy_recompression: bool) -> None:
    """Rewrite DICOM files in another transfer syntax (the policy still applies: no lossy mammography)."""
    settings = _encoding_settings("transcode", None, to_uid, profile, policy_file, option_values,
                                  allow_lossy_recompression, resume, overwrite, dry_run, cross_check)
    _run_batch(sources, output, in_place, jobs, as_json, audit_path, settings, "transcode")


# --- verify ---------------------------------------------------------------------------------------------------


@click.command()
@click.argument("targets", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--against", "originals", type=click.Path(exists=True, path_type=Path),
              help="Folder (or file) of originals, mirrored like the targets: decode both and compare.")
@click.option("--audit", "audit_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Audit trail: compare each decode with its recorded pixel checksums.")
@click.option("--cross-check", is_flag=True, help="Also decode with GDCM/DCMTK where they support the syntax.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def verify(targets: tuple[Path, ...], originals: Path | None, audit_path: Path | None, cross_check: bool,
           as_json: bool) -> None:
    """Decode written files again and compare them with the originals or the audit trail's checksums."""
    from medcodec import archive
    from medcodec.audit import read_audit

    if originals is None and audit_path is None:
        default = next((t / archive.AUDIT_NAME for t in targets if (t / archive.AUDIT_NAME).is_file()), None)
        if default is None:
            raise click.UsageError("give --against ORIGINALS or --audit FILE (no medcodec-audit.jsonl in the target)")
        audit_path = default
    records = read_audit(audit_path).latest_by_output() if audit_path else None
    the_plan = archive.plan(targets, None)
    results = []
    for task in the_plan.tasks:
        original = None
        if originals is not None:
            original = originals / task.label if originals.is_dir() else originals
        results.append(archive.check_output(Path(task.source), task.label, original, records, cross_check))
    failed = [r for r in results if r["status"] != "ok"]
    if as_json:
        _echo_json({"command": "verify", "checked": len(results), "failed": len(failed), "files": results,
                    "not_dicom": the_plan.not_dicom, "audit": str(audit_path) if audit_path else None})
    else:
        out = _stdout_console()
        for r in results:
            colour = "green" if r["status"] == "ok" else "red"
            out.print(f"[{colour}]{r['status']}[/] {r['file']}: {r['detail']}")
        out.print(f"{len(results)} checked, {len(failed)} failed")
    sys.exit(1 if failed else 0)


# --- info -----------------------------------------------------------------------------------------------------


def file_info(path: Path) -> dict[str, Any]:
    """Transfer syntax, sizes, ratio and lossy flags of one file (header only, pixels are not decoded)."""
    from pydicom import dcmread

    from medcodec.pipeline import uncompressed_size

    info: dict[str, Any] = {"file": str(path), "file_bytes": path.stat().st_size}
    try:
        ds = dcmread(path, defer_size=256)
    except Exception as exc:  # noqa: BLE001 - reported per file
        info["error"] = f"not readable as DICOM: {exc}"
        return info
    ts = ds.file_meta.get("TransferSyntaxUID") if "file_meta" in ds.__dict__ else None
    info.update(transfer_syntax=str(ts or ""), transfer_syntax_name=getattr(ts, "name", ""),
                compressed=bool(ts and ts.is_compressed) if ts else None,
                modality=str(ds.get("Modality", "") or ""), sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
                rows=ds.get("Rows"), columns=ds.get("Columns"), frames=int(ds.get("NumberOfFrames", 1) or 1),
                bits_stored=ds.get("BitsStored"), samples_per_pixel=ds.get("SamplesPerPixel"),
                photometric=str(ds.get("PhotometricInterpretation", "") or ""))
    if "PixelData" in ds:
        native = uncompressed_size(ds)
        stored = len(ds.PixelData)
        info.update(native_pixel_bytes=native, stored_pixel_bytes=stored,
                    ratio=round(native / stored, 4) if stored else None)
    lossy = str(ds.get("LossyImageCompression", "") or "")
    info.update(lossy=lossy == "01", lossy_image_compression=lossy or None,
                lossy_ratios=[str(v) for v in _as_list(ds.get("LossyImageCompressionRatio"))],
                lossy_methods=[str(v) for v in _as_list(ds.get("LossyImageCompressionMethod"))])
    return info


def _as_list(value: Any) -> list[Any]:
    if value in (None, ""):
        return []
    return list(value) if not isinstance(value, str | bytes) and hasattr(value, "__iter__") else [value]


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(files: tuple[Path, ...], as_json: bool) -> None:
    """Transfer syntax, size, compression ratio and lossy flags of DICOM files (folders are walked)."""
    from medcodec import archive

    the_plan = archive.plan(files, None)
    infos = [file_info(Path(task.source)) for task in the_plan.tasks]
    if as_json:
        _echo_json({"files": infos, "not_dicom": the_plan.not_dicom})
        return
    from rich.table import Table

    table = Table(title="medcodec info")
    for column in ("file", "syntax", "modality", "size", "bits", "bytes", "ratio", "lossy"):
        table.add_column(column, justify="right" if column in ("bytes", "ratio", "bits") else "left")
    for i in infos:
        if "error" in i:
            table.add_row(i["file"], f"[red]{i['error']}[/]", "", "", "", str(i["file_bytes"]), "", "")
            continue
        lossy = "yes (" + ", ".join(i["lossy_methods"]) + ")" if i["lossy"] else "no"
        table.add_row(i["file"], i["transfer_syntax_name"] or i["transfer_syntax"], i["modality"],
                      f"{i['rows']}x{i['columns']}x{i['frames']}", str(i["bits_stored"]), str(i["file_bytes"]),
                      f"{i['ratio']:.2f}" if i.get("ratio") else "-", lossy)
    out = _stdout_console()
    out.print(table)
    if the_plan.not_dicom:
        out.print("not DICOM: " + ", ".join(the_plan.not_dicom))


# --- report ---------------------------------------------------------------------------------------------------


@click.command()
@click.argument("audit_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="report.html or report.png (default: AUDIT.html beside the audit file).")
@click.option("--json", "as_json", is_flag=True, help="Also print the aggregated table as JSON.")
def report(audit_file: Path, output: Path | None, as_json: bool) -> None:
    """Summarise an audit trail: ratio and speed per modality and codec, with plots (HTML or PNG)."""
    from medcodec.report import ReportError, aggregate, write_report

    output = output or audit_file.with_suffix(".html")
    try:
        table = write_report(audit_file, output)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _echo_json({"report": str(output), "groups": table, "totals": aggregate(audit_file).totals})
    else:
        click.echo(f"wrote {output}")


# --- policy ---------------------------------------------------------------------------------------------------


@click.group()
def policy() -> None:
    """Inspect the compression policy: explain a decision, show the rules, list presets."""


@policy.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", default="diagnostic", show_default=True, help=PROFILES_HELP)
@click.option("--codec", default=None, help="Explain an explicit codec request instead.")
@click.option("--calling-ae", default=None, help="Explain a request from this AE title (gateway).")
@click.option("--policy", "policy_file", help="Policy TOML file or preset name.")
@click.option("--allow-lossy-recompression", is_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def explain(files: tuple[Path, ...], profile: str, codec: str | None, calling_ae: str | None,
            policy_file: str | None, allow_lossy_recompression: bool, as_json: bool) -> None:
    """Show which rule chose which codec for FILE, and why."""
    from pydicom import dcmread

    from medcodec.errors import UnknownCodecError
    from medcodec.policy import explain as explain_decision
    from medcodec.registry import CompressionRequest

    _use_policy(policy_file)
    request = CompressionRequest(codec=codec, profile=profile, calling_ae=calling_ae,
                                 allow_lossy_recompression=allow_lossy_recompression)
    results = []
    for path in files:
        try:
            ds = dcmread(path)
            results.append({"file": str(path), **explain_decision(ds, request)})
        except UnknownCodecError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - reported per file
            results.append({"file": str(path), "error": f"{type(exc).__name__}: {exc}"})
    if as_json:
        _echo_json(results)
        return
    out = _stdout_console()
    for r in results:
        out.print(f"[bold]{r['file']}[/]")
        if "error" in r:
            out.print(f"  [red]error[/]: {r['error']}")
            continue
        facts = ", ".join(f"{k}={v or '-'}" for k, v in r["facts"].items())
        out.print(f"  policy {r['policy']} ({', '.join(r['policy_sources'])}); {facts}")
        for step in r["steps"]:
            detail = f" ({'; '.join(map(str, step['detail']))})" if step["detail"] else ""
            out.print(f"  - {step['step']}: {step['outcome']}{detail}")
        d = r["decision"]
        if d["outcome"] == "refused":
            out.print(f"  => [red]refused[/] by rule '{d['rule']}': {d['reason']}")
        else:
            out.print(f"  => [green]{d['codec']}[/] (rule '{d['rule']}', options {d['options']}); "
                      f"verification: {d['verification']}")
        if "note" in r:
            out.print(f"  note: {r['note']}: {r['plugin_decision']}")


@policy.command()
@click.option("--policy", "policy_file", help="Policy TOML file or preset name (default: the active policy).")
def show(policy_file: str | None) -> None:
    """Print the effective policy (profiles and rules, after 'extends') as JSON."""
    from medcodec.policy import active_policy

    _use_policy(policy_file)
    _echo_json(asdict(active_policy()))


@policy.command()
def presets() -> None:
    """List the policy presets shipped with medcodec."""
    from medcodec.policy import load_policy, preset_names

    _echo_json([{"name": n, "description": load_policy(n).description} for n in preset_names()])

