"""Packing and unpacking files on disk: output naming, atomic no-clobber writes, verification, deletion.

Rules that protect the user's data:

* an output is written to a temporary file in the target folder, flushed and fsync'ed, checked, and only
  then renamed into place (so a crash never leaves a half-written output under the final name);
* an existing output is never replaced unless ``force`` (the no-clobber rename is a hard link, which
  fails atomically if the name exists);
* ``pack`` reads the written file back and unpacks it before calling the job a success;
* an original is deleted only when asked, and only after its output was verified and renamed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from medcodec_plugin_huffman import codec
from medcodec_plugin_huffman.errors import HuffmanFormatError, PackedFileError

SUFFIX = ".huf"


@dataclass(frozen=True)
class Job:
    """One input file and the output it goes to."""

    source: Path
    target: Path


@dataclass(frozen=True)
class Outcome:
    """What happened to one job (sizes in bytes)."""

    job: Job
    original_size: int
    packed_size: int
    method: codec.Method
    encrypted: bool
    deleted_source: bool


# -------------------------------------------------------------------------
# planning: which files go where
# -------------------------------------------------------------------------


def plan_pack(inputs: Sequence[Path], output: Path | None) -> list[Job]:
    """Jobs for ``pack``: folders contribute every regular file below them except ``*.huf`` files."""
    return _plan(inputs, output, walk_filter=lambda p: p.suffix != SUFFIX, name=lambda p: p.name + SUFFIX)


def plan_unpack(inputs: Sequence[Path], output: Path | None) -> list[Job]:
    """Jobs for ``unpack``: folders contribute their ``*.huf`` files; outputs drop the suffix."""

    def unpacked_name(path: Path) -> str:
        if path.suffix != SUFFIX:
            raise PackedFileError(
                "unpack", path, f"its name does not end in '{SUFFIX}', so no output name can be derived; "
                "give one with -o OUT."
            )
        return path.name[: -len(SUFFIX)]

    return _plan(inputs, output, walk_filter=lambda p: p.suffix == SUFFIX, name=unpacked_name)


def _plan(
    inputs: Sequence[Path],
    output: Path | None,
    *,
    walk_filter: Callable[[Path], bool],
    name: Callable[[Path], str],
) -> list[Job]:
    sources: list[tuple[Path, Path]] = []  # (file, path relative to the output folder)
    for given in inputs:
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if p.is_file() and walk_filter(p))
            sources.extend((p, p.relative_to(given)) for p in found)
        elif given.is_file():
            sources.append((given, Path(given.name)))
        else:
            raise PackedFileError("read", given, "no such file or folder.")

    single_file = len(inputs) == 1 and inputs[0].is_file()
    if not single_file and output is not None and output.exists() and not output.is_dir():
        raise PackedFileError(
            "write", output, "it is a file, but with several inputs (or a folder) -o must name a folder."
        )
    jobs: list[Job] = []
    for source, relative in sources:
        if single_file and output is not None and not output.is_dir():
            target = output  # OUT names the file for a single input
        elif output is not None:
            target = output / relative.parent / name(source)  # OUT is a folder for several
        else:
            target = source.with_name(name(source))
        jobs.append(Job(source, target))

    seen: dict[Path, Path] = {}
    for job in jobs:
        key = job.target.resolve()
        if key == job.source.resolve():
            raise PackedFileError("write", job.target, "it is also the input file; choose another output.")
        if key in seen:
            raise PackedFileError(
                "write", job.target, f"both '{seen[key]}' and '{job.source}' would be written there."
            )
        seen[key] = job.source
    return jobs


# -------------------------------------------------------------------------
# running jobs
# -------------------------------------------------------------------------


def pack_file(job: Job, *, key: bytes | None = None, force: bool = False, delete_source: bool = False) -> Outcome:
    """Pack one file, verify the written output by unpacking it, then (optionally) delete the source."""
    data = _read(job.source, "pack")
    packed, method = codec.pack(data, key=key)

    def verify(written: Path) -> None:
        try:
            restored = codec.unpack_bytes(written.read_bytes(), key=key)
        except HuffmanFormatError as exc:
            raise PackedFileError("pack", job.source, f"verification of the written output failed: {exc}") from exc
        if restored != data:
            raise PackedFileError("pack", job.source, "verification failed: the output does not restore the input.")

    _write_atomic(job.target, packed, force=force, mode=_mode_of(job.source), verify=verify, action="pack",
                  subject=job.source)
    _delete_if_asked(job, delete_source)
    return Outcome(job, len(data), len(packed), method, key is not None, delete_source)


def unpack_file(
    job: Job, *, key: bytes | None = None, force: bool = False, delete_source: bool = False
) -> Outcome:
    """Unpack one file (the checksum is verified by the codec), write it atomically, re-read it."""
    blob = _read(job.source, "unpack")
    try:
        data, method = codec.unpack(blob, key=key)
    except HuffmanFormatError as exc:
        raise PackedFileError("unpack", job.source, str(exc)) from exc

    def verify(written: Path) -> None:
        if codec.crc32(written.read_bytes()) != codec.crc32(data):
            raise PackedFileError("unpack", job.source, "the written output does not read back identically.")

    _write_atomic(job.target, data, force=force, mode=_mode_of(job.source), verify=verify, action="unpack",
                  subject=job.source)
    _delete_if_asked(job, delete_source)
    return Outcome(job, len(data), len(blob), method, key is not None, delete_source)


def write_new_file(target: Path, data: bytes, *, force: bool, mode: int) -> None:
    """Atomically create ``target`` with ``data`` and permission bits ``mode`` (used for key files)."""
    _write_atomic(target, data, force=force, mode=mode, verify=None, action="write", subject=target)


def _read(path: Path, action: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PackedFileError(action, path, exc.strerror or str(exc)) from exc


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644  # the input vanished after reading; its data is in memory, so still write it


def _write_atomic(
    target: Path,
    data: bytes,
    *,
    force: bool,
    mode: int,
    verify: Callable[[Path], None] | None,
    action: str,
    subject: Path,
) -> None:
    """Write ``data`` to ``target`` (see the module docstring); errors name ``subject``, the file acted on."""
    exists = f"the output '{target}' already exists; use --force to replace it."
    if target.exists() and not force:
        raise PackedFileError(action, subject, exists)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise PackedFileError(action, subject, f"cannot create '{target}': {exc.strerror or exc}") from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        if verify is not None:
            verify(temp)
        _rename_into_place(temp, target, force=force, refuse=PackedFileError(action, subject, exists))
        _fsync_folder(target.parent)
    except OSError as exc:
        raise PackedFileError(action, subject, f"writing '{target}' failed: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()  # gone already after a successful rename


def _rename_into_place(temp: Path, target: Path, *, force: bool, refuse: PackedFileError) -> None:
    if force:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)  # fails atomically if the name appeared meanwhile
    except FileExistsError:
        raise refuse from None
    except OSError:
        # Filesystems without hard links: fall back to check-then-rename (tiny race window).
        if target.exists():
            raise refuse from None
        os.replace(temp, target)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, where it is skipped.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _delete_if_asked(job: Job, delete_source: bool) -> None:
    if delete_source:
        try:
            job.source.unlink()
        except OSError as exc:
            raise PackedFileError(
                "delete", job.source, f"the output '{job.target}' was written and verified, but deleting the "
                f"original failed: {exc.strerror or exc}"
            ) from exc
        _fsync_folder(job.source.parent)


def total(outcomes: Iterable[Outcome]) -> tuple[int, int]:
    """Sum of original and packed sizes."""
    original = packed = 0
    for outcome in outcomes:
        original += outcome.original_size
        packed += outcome.packed_size
    return original, packed
