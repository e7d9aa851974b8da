"""``medcodec huffman pack | unpack | keygen | info``: the whole-file Huffman tool.

Every file is processed even when an earlier one fails; each failure is reported on stderr with the
file name and the reason, and the command then exits with status 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import click

from medcodec_plugin_huffman import codec, files, keys
from medcodec_plugin_huffman.errors import HuffmanFormatError, KeyFileError, PackedFileError

_INPUTS = click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
_OUTPUT = click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=None,
    help="Output file (one input file) or folder (several inputs, or a folder). "
    "Default: next to each input.",
)
_FORCE = click.option("--force", is_flag=True, help="Replace outputs that already exist.")
_DELETE = click.option(
    "--delete-originals", is_flag=True,
    help="Delete each input once its output has been written and verified.",
)
_KEY = click.option(
    "--key", "key_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="AES-256 key file (see 'medcodec huffman keygen').",
)


@click.group(name="huffman")
def huffman() -> None:
    """Whole-file byte-level Huffman packing (lossless, never expands, checksummed).

    Huffman coding is NOT encryption: the code table is in the file and anyone can unpack it.
    Use --encrypt with a key file to make packed files unreadable without the key.
    """


@huffman.command()
@_INPUTS
@_OUTPUT
@_FORCE
@_DELETE
@click.option("--encrypt", is_flag=True, help="Encrypt with AES-256-GCM using --key.")
@_KEY
def pack(
    inputs: tuple[Path, ...],
    output: Path | None,
    force: bool,
    delete_originals: bool,
    encrypt: bool,
    key_file: Path | None,
) -> None:
    """Pack files (and every file in folders, except *.huf) into .huf files."""
    if encrypt and key_file is None:
        raise click.UsageError("--encrypt needs --key KEYFILE (create one with 'medcodec huffman keygen').")
    if key_file is not None and not encrypt:
        raise click.UsageError("--key is only used with --encrypt when packing; add --encrypt.")
    key = _load_key(key_file)
    jobs = _plan(files.plan_pack, inputs, output)

    def run(job: files.Job) -> files.Outcome:
        return files.pack_file(job, key=key, force=force, delete_source=delete_originals)

    _run_all(jobs, run, _describe_pack)


@huffman.command()
@_INPUTS
@_OUTPUT
@_FORCE
@_DELETE
@_KEY
def unpack(
    inputs: tuple[Path, ...], output: Path | None, force: bool, delete_originals: bool, key_file: Path | None
) -> None:
    """Unpack .huf files (and every *.huf file in folders), verifying their checksums."""
    key = _load_key(key_file)
    jobs = _plan(files.plan_unpack, inputs, output)

    def run(job: files.Job) -> files.Outcome:
        return files.unpack_file(job, key=key, force=force, delete_source=delete_originals)

    _run_all(jobs, run, _describe_unpack)


@huffman.command()
@click.argument("key_file", type=click.Path(path_type=Path, dir_okay=False))
@_FORCE
def keygen(key_file: Path, force: bool) -> None:
    """Create a new random AES-256 key file (mode 0600) for --encrypt."""
    try:
        keys.generate_key_file(key_file, force=force)
    except PackedFileError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote a new 256-bit key to '{key_file}'; keep it secret and keep a copy: "
               "files packed with it cannot be read without it.")


@huffman.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
def info(inputs: tuple[Path, ...]) -> None:
    """Show the header of .huf files (without decoding them)."""
    failures = 0
    for path in inputs:
        try:
            blob = path.read_bytes()
            header = codec.read_header(blob)
        except (OSError, HuffmanFormatError) as exc:
            click.echo(f"error: cannot read '{path}': {exc}", err=True)
            failures += 1
            continue
        if header.encrypted:
            click.echo(f"'{path}': {len(blob)} bytes, encrypted (AES-256-GCM); method and size are hidden")
        else:
            method = header.method.name.lower() if header.method is not None else "?"
            click.echo(f"'{path}': {len(blob)} bytes, {method}, original {header.original_size} bytes, "
                       f"CRC-32 0x{header.crc32:08x}")
    if failures:
        raise SystemExit(1)


# -------------------------------------------------------------------------
# helpers
# -------------------------------------------------------------------------


def _load_key(key_file: Path | None) -> bytes | None:
    if key_file is None:
        return None
    try:
        return keys.load_key(key_file)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from exc


def _plan(
    planner: Callable[[Sequence[Path], Path | None], list[files.Job]],
    inputs: tuple[Path, ...],
    output: Path | None,
) -> list[files.Job]:
    try:
        jobs = planner(list(inputs), output)
    except PackedFileError as exc:
        raise click.ClickException(str(exc)) from exc
    if not jobs:
        raise click.ClickException("no input files found.")
    return jobs


def _run_all(
    jobs: list[files.Job],
    run: Callable[[files.Job], files.Outcome],
    describe: Callable[[files.Outcome], str],
) -> None:
    outcomes: list[files.Outcome] = []
    failures = 0
    for job in jobs:
        try:
            outcome = run(job)
        except PackedFileError as exc:
            click.echo(f"error: {exc}", err=True)
            failures += 1
            continue
        except MemoryError:
            # Whole files are held in memory (about 3-4x their size while packing with verification).
            click.echo(f"error: Cannot process '{job.source}': not enough memory for a file of this size.", err=True)
            failures += 1
            continue
        outcomes.append(outcome)
        click.echo(describe(outcome))
    if len(jobs) > 1:
        original, packed = files.total(outcomes)
        ratio = f", overall ratio {original / packed:.3f}" if packed else ""
        click.echo(f"{len(outcomes)} of {len(jobs)} files done{ratio}")
    if failures:
        click.echo(f"error: {failures} of {len(jobs)} files failed (see above); their inputs were left as they were.",
                   err=True)
        raise SystemExit(1)


def _sizes(outcome: files.Outcome) -> str:
    ratio = outcome.original_size / outcome.packed_size
    saving = 100.0 * (1.0 - outcome.packed_size / outcome.original_size) if outcome.original_size else 0.0
    how = "Huffman" if outcome.method is codec.Method.HUFFMAN else "stored raw (Huffman would not shrink it)"
    extra = ", encrypted" if outcome.encrypted else ""
    deleted = "; original deleted" if outcome.deleted_source else ""
    return f"ratio {ratio:.3f}, saving {saving:.1f}%, {how}{extra}{deleted}"


def _describe_pack(outcome: files.Outcome) -> str:
    job = outcome.job
    return (f"packed '{job.source}' -> '{job.target}': {outcome.original_size} -> {outcome.packed_size} bytes "
            f"({_sizes(outcome)}; verified)")


def _describe_unpack(outcome: files.Outcome) -> str:
    job = outcome.job
    return (f"unpacked '{job.source}' -> '{job.target}': {outcome.packed_size} -> {outcome.original_size} bytes "
            f"(checksum OK; {_sizes(outcome)})")
