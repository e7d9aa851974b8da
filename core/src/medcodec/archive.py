"""Whole archives: walk folders, process every DICOM file in parallel, and never lose an original.

Each file is one task, run in a worker process (``--jobs N``, one file at a time per worker, so a worker holds
at most one image and its encoded copy). A task reads the file, runs :func:`medcodec.pipeline.compress` (policy,
encode, verification, metadata) or a decompression, then commits the result:

1. the dataset is written to a temporary file beside the target (``.NAME.medcodec-tmp-PID``);
2. the temporary file is read back and its transfer syntax, SOP Instance UID and encoded pixel bytes are
   compared with what was verified in memory (optionally also decoded by an independent tool);
3. it is fsynced, its audit line is appended, and it is renamed over the target (``os.replace``: atomic), and
   the directory is fsynced.

So a run killed at any moment leaves every original intact (``--in-place`` replaces an original only in step
3), at most a stale temporary file (removed by the next run), and an audit line for every target that exists.
``--resume`` skips targets that already exist (or, in place, files already in the chosen transfer syntax).
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medcodec.errors import MedcodecError, PolicyRefusedError

if TYPE_CHECKING:
    from pydicom import Dataset

    from medcodec.audit import AuditLog

TEMP_MARKER = ".medcodec-tmp-"
AUDIT_NAME = "medcodec-audit.jsonl"
#: Native transfer syntaxes ``decompress``/``transcode`` can write.
NATIVE_SYNTAXES = {"1.2.840.10008.1.2.1": False, "1.2.840.10008.1.2": True}  # uid -> implicit VR
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"


class ArchiveError(MedcodecError, ValueError):
    """A batch cannot start (bad sources, colliding targets); names the paths involved."""


class SourceDecodeError(MedcodecError, ValueError):
    """The source file's pixel data cannot be decoded here (no decoder installed, or damaged data)."""

    def __init__(self, transfer_syntax: str, problem: str) -> None:
        self.transfer_syntax, self.problem = transfer_syntax, problem
        from pydicom.uid import UID

        name = UID(transfer_syntax).name if transfer_syntax else "unknown transfer syntax"
        super().__init__(f"the source pixel data ({name}, {transfer_syntax}) cannot be decoded: {problem}")


class WriteVerificationError(MedcodecError, OSError):
    """The written file does not contain what was verified in memory; the original is kept."""

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"'{path}': the written file failed verification: {problem}; the original is kept")


# --- planning ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileTask:
    source: str
    target: str
    label: str  # the path shown to the user (relative to its source folder)


@dataclass
class Plan:
    tasks: list[FileTask] = field(default_factory=list)
    not_dicom: list[str] = field(default_factory=list)
    stale_temporaries: list[str] = field(default_factory=list)


def is_dicom_file(path: Path) -> bool:
    """A DICOM Part 10 file: 128-byte preamble then ``DICM``."""
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def plan(sources: Sequence[str | Path], destination: str | Path | None) -> Plan:
    """Every file under ``sources`` with its target (``destination`` mirrors each source folder; None = in place).

    A source folder's tree is mirrored directly under ``destination``; a source file goes to
    ``destination/NAME``. Files that are not DICOM are listed, not processed; medcodec's own temporary files
    (left by a killed run) are listed for removal; two sources mapping to one target are an error.
    """
    result = Plan()
    dest = Path(destination) if destination is not None else None
    seen: dict[str, str] = {}
    for source in sources:
        root = Path(source)
        if not root.exists():
            raise ArchiveError(f"source '{root}' does not exist")
        files = [(p, p.relative_to(root)) for p in _walk(root)] if root.is_dir() else [(root, Path(root.name))]
        for path, rel in files:
            if TEMP_MARKER in path.name:
                result.stale_temporaries.append(str(path))
                continue
            if path.name == AUDIT_NAME:
                continue
            label = str(rel) if root.is_dir() else str(root)
            if not is_dicom_file(path):
                result.not_dicom.append(label if root.is_dir() else str(path))
                continue
            target = path if dest is None else dest / rel
            key = str(target.resolve())
            if key in seen:
                raise ArchiveError(f"'{seen[key]}' and '{path}' would both be written to '{target}'")
            seen[key] = str(path)
            result.tasks.append(FileTask(str(path), str(target), label))
    if dest is not None and dest.is_dir():
        result.stale_temporaries += [str(p) for p in _walk(dest) if TEMP_MARKER in p.name]
    return result


# --- what a run does ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSettings:
    """Everything a worker needs (picklable)."""

    operation: str = "compress"  # compress | decompress | transcode
    codec: str | None = None
    profile: str = "diagnostic"
    options: dict[str, Any] = field(default_factory=dict)
    to_uid: str | None = None
    allow_lossy_recompression: bool = False
    policy: str | None = None
    audit_path: str | None = None
    in_place: bool = False
    resume: bool = False
    overwrite: bool = False
    dry_run: bool = False
    cross_check: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@dataclass
class FileResult:
    label: str
    outcome: str  # compressed, decompressed, transcoded, skipped, failed, refused, dry-run
    message: str = ""
    codec: str | None = None
    rule: str | None = None
    source_bytes: int = 0
    target_bytes: int = 0
    original_bytes: int = 0
    compressed_bytes: int = 0
    ratio: float | None = None
    lossy: bool | None = None
    psnr: float | None = None
    max_abs_error: float | None = None
    seconds: float = 0.0
    worker: int = 0
    worker_peak_rss_kib: int = 0
    image_bytes: int = 0
    #: Random id of this attempt, in its audit lines: a failed final rename withdraws the line written before it.
    attempt: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the worker --------------------------------------------------------------------------------------------


class _Worker:
    """Per-process state: the policy, the audit log, and a watchdog against an orphaned worker."""

    settings: BatchSettings | None = None
    audit: AuditLog | None = None


def init_worker(settings: BatchSettings, parent_pid: int | None = None) -> None:
    import pydicom  # noqa: F401 - first, so the start-up hook installs before install() runs (no re-entry)

    from medcodec import install
    from medcodec.audit import AuditLog
    from medcodec.policy import use_policy

    install()
    use_policy(settings.policy)
    _Worker.settings = settings
    _Worker.audit = AuditLog(settings.audit_path) if settings.audit_path and not settings.dry_run else None
    if parent_pid is not None:  # a parent killed with -9 cannot stop us: stop ourselves, between two writes
        def watchdog() -> None:
            while os.getppid() == parent_pid:
                time.sleep(0.5)
            os._exit(3)

        threading.Thread(target=watchdog, name="medcodec-orphan-watchdog", daemon=True).start()


def _peak_rss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def process_file(task: FileTask) -> FileResult:
    """Run one task in this process (after :func:`init_worker`); every failure becomes a result, not a raise."""
    settings = _Worker.settings
    assert settings is not None, "init_worker() was not called"
    started = time.perf_counter()
    result = FileResult(task.label, "failed", source_bytes=_size(task.source), worker=os.getpid())
    try:
        _process(task, settings, result)
    except PolicyRefusedError as exc:
        result.outcome, result.message = "refused", str(exc)
    except (MedcodecError, OSError, ValueError, TypeError, NotImplementedError, RuntimeError,
            AttributeError, KeyError, IndexError) as exc:  # a damaged file must not stop the run
        result.outcome, result.message = "failed", f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - started
    result.worker_peak_rss_kib = _peak_rss_kib()
    return result


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _request(settings: BatchSettings) -> Any:
    from medcodec import get_codec
    from medcodec.registry import CompressionRequest

    codec = settings.codec
    if settings.operation == "transcode":
        codec = get_codec(str(settings.to_uid)).name
    # No file name in the request: pipeline errors go into the audit trail, and paths may identify a patient.
    return CompressionRequest(codec=codec, profile=settings.profile, options=dict(settings.options),
                              allow_lossy_recompression=settings.allow_lossy_recompression)


def _process(task: FileTask, settings: BatchSettings, result: FileResult) -> None:
    from pydicom import dcmread

    target = Path(task.target)
    if settings.resume and not settings.in_place and target.exists():
        result.outcome, result.message = "skipped", "already done (target exists)"
        return
    if not settings.in_place and not settings.overwrite and not settings.dry_run and target.exists():
        raise FileExistsError(f"target '{target}' exists; use --resume to skip finished files or --overwrite")
    ds = dcmread(task.source)
    if "PixelData" not in ds:
        result.outcome, result.message = "skipped", "no pixel data"
        return
    result.image_bytes = _native_size(ds)
    source_ts = _source_ts(ds)  # before decoding changes it
    native_target = settings.operation == "decompress" or (
        settings.operation == "transcode" and str(settings.to_uid) in NATIVE_SYNTAXES)
    try:
        if native_target:
            _decompress(ds, task, settings, result)
        else:
            _compress(ds, task, settings, result)
    except Exception as exc:
        _audit_failure(ds, task, source_ts, settings, result, exc)  # recorded, then reported by the caller
        raise


def _native_size(ds: Dataset) -> int:
    from medcodec.pipeline import uncompressed_size

    try:
        return uncompressed_size(ds)
    except (AttributeError, TypeError, ValueError):
        return 0


def _source_ts(ds: Dataset) -> str:
    meta = ds.get("file_meta")
    return str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else ""


def _instance_fields(ds: Dataset, settings: BatchSettings, result: FileResult) -> dict[str, Any]:
    return {
        "operation": settings.operation, "run_id": settings.run_id, "attempt": result.attempt,
        "profile": settings.profile,
        "modality": str(ds.get("Modality", "") or ""), "sop_class_uid": str(ds.get("SOPClassUID", "") or ""),
        "bits_stored": ds.get("BitsStored"), "samples_per_pixel": ds.get("SamplesPerPixel"),
        "frames": int(ds.get("NumberOfFrames", 1) or 1),
    }


def _audit_failure(ds: Dataset, task: FileTask, source_ts: str, settings: BatchSettings, result: FileResult,
                   exc: BaseException) -> None:
    if _Worker.audit is None or settings.dry_run:
        return
    from medcodec.pipeline import audit_record

    error = f"{type(exc).__name__}: {exc}"
    # File and folder names may identify a patient: the trail holds UIDs only.
    names = {task.source, task.target, task.label, str(Path(task.source).parent), str(Path(task.target).parent),
             Path(task.source).name, Path(task.target).name}
    for name in sorted((n for n in names if len(n) > 2), key=len, reverse=True):
        error = error.replace(name, "<file>")
    record = audit_record(outcome="refused" if isinstance(exc, PolicyRefusedError) else "failed",
                          codec=result.codec, source_ts=source_ts,
                          old_uid=str(ds.get("SOPInstanceUID", "")) or None, error=error)
    record.update(_instance_fields(ds, settings, result), source_file_bytes=result.source_bytes)
    _Worker.audit.write(record)


def decoded_source(ds: Dataset) -> Any:
    """Decode a compressed source in place, once, and return its stored pixel values (no YBR->RGB).

    pydicom's default decode converts YBR to RGB, a rounding step a "lossless" result would silently include;
    a decoded YBR_FULL_422 frame is full resolution, so it is labelled YBR_FULL.
    :raises SourceDecodeError: no decoder for the source's syntax here, or damaged data.
    """
    from medcodec.pipeline import decode_source

    source_ts = _source_ts(ds)
    try:
        return decode_source(ds)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError) as exc:
        raise SourceDecodeError(source_ts, f"{type(exc).__name__}: {exc}") from exc


def _compress(ds: Dataset, task: FileTask, settings: BatchSettings, result: FileResult) -> None:
    from medcodec.audit import pixel_digest
    from medcodec.frames import decode_frames
    from medcodec.pipeline import audit_record, choose, compress

    request = _request(settings)
    spec, choice = choose(ds, request)
    result.codec, result.rule = spec.name, choice.rule
    if settings.in_place and _source_ts(ds) == spec.transfer_syntax:
        result.outcome, result.message = "skipped", f"already {spec.name} ({spec.transfer_syntax})"
        return
    if settings.dry_run:
        result.outcome, result.message = "dry-run", f"would use '{spec.name}' (rule '{choice.rule}')"
        return
    fields = _instance_fields(ds, settings, result)
    source_ts = _source_ts(ds)
    # Stored values (no YBR->RGB), as the pipeline verifies them; pydicom caches this array and the pipeline
    # reuses it.
    source_pixels: Any = decoded_source(ds)
    original_digest = pixel_digest(source_pixels)
    if not settings.cross_check:
        source_pixels = None  # only the cross-check needs it later: hold one image less
    report = compress(ds, request=request, jobs=1)  # one process per core already: no frame threads
    if report.lossy:  # one more decode, for the checksum `medcodec verify --audit` compares with
        decoded = decode_frames(ds, jobs=1, as_rgb=False)
        output_digest = pixel_digest(decoded)
    else:  # the pipeline verified the decode bit-exact: the output's pixels are the original's
        decoded, output_digest = source_pixels, original_digest
    record = audit_record(outcome="compressed" if settings.operation == "compress" else "transcoded",
                          report=report, spec=spec)
    record.update(fields, source_transfer_syntax=source_ts, ssim=None if report.ssim is None else round(report.ssim, 5),
                  original_pixel_sha256=original_digest, output_pixel_sha256=output_digest,
                  source_file_bytes=result.source_bytes)
    result.outcome = record["outcome"]
    result.original_bytes, result.compressed_bytes = report.original_bytes, report.compressed_bytes
    result.ratio, result.lossy = round(report.ratio, 4), report.lossy
    result.psnr, result.max_abs_error = report.psnr, report.max_abs_error
    result.target_bytes = commit(ds, Path(task.target), record, settings, decoded, lossless=not report.lossy,
                                 label=task.label, source=Path(task.source))


def _decompress(ds: Dataset, task: FileTask, settings: BatchSettings, result: FileResult) -> None:
    from pydicom.uid import UID

    from medcodec.audit import pixel_digest
    from medcodec.pipeline import audit_record

    to_uid = str(settings.to_uid or EXPLICIT_VR_LITTLE_ENDIAN)
    source_ts = _source_ts(ds)
    if settings.in_place and source_ts == to_uid:
        result.outcome, result.message = "skipped", f"already {to_uid}"
        return
    if settings.dry_run:
        result.outcome, result.message = "dry-run", f"would write {to_uid}"
        return
    started = time.perf_counter()
    fields = _instance_fields(ds, settings, result)
    # The native copy holds exactly the decoded stored values. LossyImageCompression is kept: decoding adds
    # no loss, and once lossy always lossy.
    pixels = decoded_source(ds)
    digest = pixel_digest(pixels)
    ds.file_meta.TransferSyntaxUID = UID(to_uid)
    uid = str(ds.get("SOPInstanceUID", "")) or None
    record = audit_record(outcome="decompressed" if settings.operation == "decompress" else "transcoded",
                          codec=None, source_ts=source_ts, old_uid=uid)
    native = _native_size(ds)
    record.update(fields, target_transfer_syntax=to_uid, new_sop_instance_uid=uid, original_bytes=native,
                  compressed_bytes=native, lossy=False, max_abs_error=0.0, verified=True,
                  original_pixel_sha256=digest, output_pixel_sha256=digest, source_file_bytes=result.source_bytes,
                  milliseconds=round((time.perf_counter() - started) * 1000, 2))
    record.pop("error", None)
    result.outcome = record["outcome"]
    result.original_bytes = result.compressed_bytes = native
    result.target_bytes = commit(ds, Path(task.target), record, settings, pixels, lossless=True, label=task.label,
                                 source=Path(task.source), implicit_vr=NATIVE_SYNTAXES.get(to_uid, False))


# --- committing one file -----------------------------------------------------------------------------------


def _fsync_path(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def commit(ds: Dataset, target: Path, record: dict[str, Any], settings: BatchSettings, decoded: Any, *,
           lossless: bool, label: str, source: Path | None = None, implicit_vr: bool = False) -> int:
    """Write ``ds`` to ``target`` atomically after checking the written bytes; returns the file size.

    The new file takes ``source``'s permission bits (an in-place replacement must not widen or narrow access).

    The audit line is appended after the fsync and before the rename, so every target that exists has one.
    """
    from pydicom import dcmread

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}{TEMP_MARKER}{os.getpid()}"
    try:
        if implicit_vr:
            ds.save_as(tmp, enforce_file_format=True, implicit_vr=True, little_endian=True)
        else:
            ds.save_as(tmp, enforce_file_format=True)
        written = dcmread(tmp)
        problems = []
        if str(written.file_meta.TransferSyntaxUID) != str(ds.file_meta.TransferSyntaxUID):
            problems.append(f"transfer syntax {written.file_meta.TransferSyntaxUID} instead of "
                            f"{ds.file_meta.TransferSyntaxUID}")
        if str(written.get("SOPInstanceUID", "")) != str(ds.get("SOPInstanceUID", "")):
            problems.append("SOP Instance UID differs")
        if _sha256(written.PixelData) != _sha256(ds.PixelData):
            problems.append("encoded pixel data differs from what was verified")
        if problems:
            raise WriteVerificationError(label, "; ".join(problems))
        if settings.cross_check:
            from medcodec.crosscheck import cross_check

            uid = str(ds.file_meta.TransferSyntaxUID)
            check = cross_check(tmp, decoded, uid, lossless=lossless)
            record["cross_check"] = check.as_record()
            if check.status == "failed":
                codec = record.get("codec") or uid
                raise WriteVerificationError(label, f"independent decoder check for codec '{codec}': {check.detail}")
        if source is not None:
            shutil.copymode(source, tmp)
        _fsync_path(tmp)
        record["output_file_bytes"] = tmp.stat().st_size
        if _Worker.audit is not None:
            _Worker.audit.write(record)
        os.replace(tmp, target)
        _fsync_path(target.parent, directory=True)
        return int(record["output_file_bytes"])
    finally:
        if tmp.exists():
            tmp.unlink()


# --- running a batch ---------------------------------------------------------------------------------------


def remove_stale_temporaries(paths: Iterable[str]) -> int:
    count = 0
    for path in paths:
        try:
            os.unlink(path)
            count += 1
        except FileNotFoundError:
            pass
    return count


def run(tasks: Sequence[FileTask], settings: BatchSettings, jobs: int = 1,
        on_result: Callable[[FileResult], None] | None = None) -> list[FileResult]:
    """Process ``tasks`` with ``jobs`` worker processes (1 = in this process); results in completion order."""
    results: list[FileResult] = []

    def done(result: FileResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    if jobs <= 1 or len(tasks) <= 1:
        init_worker(settings)
        try:
            for task in tasks:
                done(process_file(task))
        finally:
            if _Worker.audit is not None:
                _Worker.audit.close()
        return results

    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

    # spawn, not fork: the parent runs rich's refresh thread, and forking a threaded process is unsafe.
    context = multiprocessing.get_context("spawn")
    queue = iter(tasks)
    while True:  # a new pool after a worker died (a crash inside a native codec): the run goes on
        pending: dict[Future[FileResult], FileTask] = {}
        broken = False
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=init_worker,
                                 initargs=(settings, os.getpid())) as pool:
            def refill(pool: ProcessPoolExecutor = pool,
                       pending: dict[Future[FileResult], FileTask] = pending) -> None:
                # Few tasks in flight: results come back as they complete and memory stays bounded.
                while len(pending) < 2 * jobs:
                    task = next(queue, None)
                    if task is None:
                        return
                    pending[pool.submit(process_file, task)] = task

            try:
                refill()
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        task = pending.pop(future)
                        try:
                            done(future.result())
                        except BrokenProcessPool:
                            broken = True
                            done(_lost_with_worker(task))
                    if broken:
                        break
                    refill()
            except BrokenProcessPool:
                broken = True
            for task in pending.values():  # in flight when the pool broke: which one killed it is unknown
                done(_lost_with_worker(task))
        if not broken:
            return results


def _lost_with_worker(task: FileTask) -> FileResult:
    return FileResult(task.label, "failed", "a worker process died while this file was in flight (killed, out of "
                      "memory, or a crash in a codec); its original is untouched; run again with --resume",
                      source_bytes=_size(task.source))


def summarize(results: Sequence[FileResult], plan_: Plan, seconds: float) -> dict[str, Any]:
    """Counts by outcome, bytes, ratio, throughput and each worker's peak resident memory."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    done = [r for r in results if r.outcome in ("compressed", "decompressed", "transcoded")]
    original = sum(r.original_bytes for r in done)
    compressed = sum(r.compressed_bytes for r in done)
    workers: dict[int, int] = {}
    for r in results:
        workers[r.worker] = max(workers.get(r.worker, 0), r.worker_peak_rss_kib)
    return {
        "files": len(results),
        "outcomes": counts,
        "not_dicom": len(plan_.not_dicom),
        "original_bytes": original,
        "compressed_bytes": compressed,
        "ratio": round(original / compressed, 4) if compressed else None,
        "seconds": round(seconds, 3),
        "mb_per_second": round(original / 1e6 / seconds, 2) if seconds > 0 and original else None,
        "largest_image_bytes": max((r.image_bytes for r in results), default=0),
        "worker_peak_rss_mib": {str(pid): round(kib / 1024, 1) for pid, kib in sorted(workers.items())},
    }


# --- checking written files again ----------------------------------------------------------------------------


def check_output(path: Path, label: str, original: Path | None,
                 records: dict[tuple[str, str], dict[str, Any]] | None,
                 cross_check: bool = False) -> dict[str, Any]:
    """Decode ``path`` again and compare it with ``original`` and/or its audit record's checksums.

    A result that differs from its original must be marked lossy (0028,2110 = 01) and must have been recorded
    as lossy; a lossless record's pixels must hash to the original's.
    """
    from pydicom import dcmread

    from medcodec.audit import pixel_digest
    from medcodec.pipeline import stored_pixels
    from medcodec.verify import compare

    entry: dict[str, Any] = {"file": label, "status": "failed", "detail": ""}
    problems: list[str] = []
    notes: list[str] = []
    try:
        ds = dcmread(path)
        pixels = stored_pixels(ds)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a failed check
        entry["detail"] = f"does not decode: {type(exc).__name__}: {exc}"
        return entry
    uid = str(ds.get("SOPInstanceUID", ""))
    ts = str(ds.file_meta.TransferSyntaxUID)
    marked_lossy = str(ds.get("LossyImageCompression", "") or "") == "01"
    entry.update(transfer_syntax=ts, sop_instance_uid=uid, marked_lossy=marked_lossy)
    digest = pixel_digest(pixels)
    if records is not None:
        record = records.get((uid, ts))
        if record is None:
            problems.append(f"no audit record for its SOP Instance UID in transfer syntax {ts}")
        else:
            if digest != record.get("output_pixel_sha256"):
                problems.append("decoded pixels differ from the recorded checksum")
            if not record.get("lossy") and record.get("original_pixel_sha256") != digest:
                problems.append("recorded as lossless but pixels differ from the original's checksum")
            if record.get("lossy") and not marked_lossy:
                problems.append("recorded as lossy but (0028,2110) is not 01")
            notes.append(f"matches audit ({'lossy' if record.get('lossy') else 'lossless'}, codec "
                         f"{record.get('codec') or '-'})")
    if original is not None:
        try:
            reference = stored_pixels(dcmread(original))
            result = compare(reference, pixels)
        except FileNotFoundError:
            problems.append(f"original '{original}' not found")
        except Exception as exc:  # noqa: BLE001 - the original itself is unreadable
            problems.append(f"original '{original}' cannot be compared: {type(exc).__name__}: {exc}")
        else:
            entry.update(max_abs_error=result.max_abs_error, psnr=result.psnr, ssim=result.ssim)
            if result.identical:
                notes.append("bit-exact with the original")
            elif not marked_lossy:
                problems.append(f"differs from the original (max error {result.max_abs_error:g}) but is not "
                                "marked lossy")
            else:
                notes.append(f"lossy: max error {result.max_abs_error:g}, PSNR {result.psnr:.2f} dB")
    if cross_check:
        from medcodec.crosscheck import cross_check as independent

        check = independent(path, pixels, ts, lossless=not marked_lossy)
        entry["cross_check"] = check.as_record()
        (problems if check.status == "failed" else notes).append(check.detail)
    entry["status"] = "failed" if problems else "ok"
    entry["detail"] = "; ".join(problems or notes or ["decodes"])
    return entry
