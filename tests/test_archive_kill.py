"""``kill -9`` in the middle of a parallel run, then ``--resume``: nothing lost, nothing redone, audit complete."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from medcodec.audit import read_audit
from medcodec.testing import shared_dir
from pydicom.uid import generate_uid

SOURCES = ("cornerstone3D/CTImage.dcm", "dcm_qa_ts/In/4.dcm")
COPIES = 6  # 12 real 512x512 CT / 384x384 MR instances: a few seconds of work for two workers


def archive(root: Path) -> dict[str, str]:
    """Copies of real CT and MR images, each with its own SOP Instance UID; returns {path: sha256}."""
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared/corpus is absent")
    for n in range(COPIES):
        for i, source in enumerate(SOURCES):
            ds = pydicom.dcmread(shared / "corpus" / source)
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            path = root / f"series{n}" / f"img{i}.dcm"
            path.parent.mkdir(parents=True, exist_ok=True)
            ds.save_as(path, enforce_file_format=True)
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.dcm"))}


def medcodec(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MEDCODEC_LOAD_PLUGINS": "standard"}
    return subprocess.Popen([sys.executable, "-m", "medcodec.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def kill_after(proc: subprocess.Popen[bytes], finished: Callable[[], int], at_least: int) -> int:
    """SIGKILL the whole process group (CLI and workers) once ``finished()`` reaches ``at_least``."""
    deadline = time.monotonic() + 120
    count = 0
    while time.monotonic() < deadline and proc.poll() is None:
        count = finished()
        if count >= at_least:
            break
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()  # reaps it and closes the pipes
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return count


def outputs(dst: Path) -> list[Path]:
    return sorted(p for p in dst.rglob("*.dcm") if ".medcodec-tmp-" not in p.name) if dst.exists() else []


def source_uids(paths: dict[str, str]) -> set[str]:
    return {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in paths}


def test_kill_9_mid_run_then_resume_finishes_without_redoing_or_losing_anything(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    before = archive(src)
    proc = medcodec("compress", str(src), "-o", str(dst), "--jobs", "2", "--json")
    kill_after(proc, lambda: len(outputs(dst)), 3)

    assert {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in before} == before  # originals intact
    finished = outputs(dst)
    assert 3 <= len(finished) < len(before)
    for out in finished:  # whatever exists is complete, verified and readable
        original = src / out.relative_to(dst)
        assert np.array_equal(pydicom.dcmread(out).pixel_array, pydicom.dcmread(original).pixel_array)
    stamps = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in finished}

    resumed = medcodec("compress", str(src), "-o", str(dst), "--jobs", "2", "--resume", "--json")
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr.decode()[-3000:]
    run = json.loads(stdout)
    assert run["summary"]["outcomes"] == {"skipped": len(finished), "compressed": len(before) - len(finished)}
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in finished} == stamps  # not redone
    assert len(outputs(dst)) == len(before)
    assert not [p for p in dst.rglob("*") if ".medcodec-tmp-" in p.name]

    audit = read_audit(dst / "medcodec-audit.jsonl")
    compressed = {r["old_sop_instance_uid"] for r in audit.records if r["outcome"] == "compressed"}
    assert compressed == source_uids(before)  # every instance has its audit line
    assert audit.bad_lines in ([], [len(audit.records) + 1])  # at most one torn line, from the killed run

    from click.testing import CliRunner
    from medcodec.cli import cli

    checked = CliRunner().invoke(cli, ["verify", str(dst), "--against", str(src)])
    assert checked.exit_code == 0, checked.output


def test_kill_9_during_in_place_compression_never_leaves_a_damaged_original(tmp_path: Path) -> None:
    src = tmp_path / "src"
    before = archive(src)
    pixels = {p: hashlib.sha256(pydicom.dcmread(p).pixel_array.tobytes()).hexdigest() for p in before}
    audit = tmp_path / "audit.jsonl"

    uids = source_uids(before)
    inodes = {p: Path(p).stat().st_ino for p in before}

    def replaced() -> int:  # os.replace gives the path a new inode
        return sum(1 for p, inode in inodes.items() if Path(p).stat().st_ino != inode)

    proc = medcodec("compress", str(src), "--in-place", "--jobs", "2", "--audit", str(audit), "--json")
    kill_after(proc, replaced, 3)
    for path, digest in pixels.items():  # each file is its original or a verified replacement: same pixels
        ds = pydicom.dcmread(path)
        assert hashlib.sha256(ds.pixel_array.tobytes()).hexdigest() == digest, path

    resumed = medcodec("compress", str(src), "--in-place", "--jobs", "2", "--resume", "--audit", str(audit),
                       "--json")
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr.decode()[-3000:]
    for path, digest in pixels.items():
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID.is_compressed
        assert hashlib.sha256(ds.pixel_array.tobytes()).hexdigest() == digest
    assert not [p for p in src.rglob("*") if ".medcodec-tmp-" in p.name]
    compressed = {r["old_sop_instance_uid"] for r in read_audit(audit).records if r["outcome"] == "compressed"}
    assert compressed == uids


def worker_pids(cli_pid: int) -> list[int]:
    """The pool's worker processes (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{cli_pid}/task/{cli_pid}/children").read_text().split()
    return [int(pid) for pid in children
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]


def test_a_worker_killed_mid_run_fails_only_its_files_and_the_run_goes_on(tmp_path: Path) -> None:
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("this kernel does not list child processes in /proc (CONFIG_PROC_CHILDREN)")
    src, dst = tmp_path / "src", tmp_path / "dst"
    before = archive(src)
    proc = medcodec("compress", str(src), "-o", str(dst), "--jobs", "2", "--json")
    deadline = time.monotonic() + 120
    while len(outputs(dst)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    victims = worker_pids(proc.pid)
    assert victims, "no worker to kill: the run ended too early"
    os.kill(victims[0], signal.SIGKILL)  # what the OOM killer would do
    stdout, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1
    run = json.loads(stdout)
    lost = [f for f in run["files"] if f["outcome"] == "failed"]
    assert 1 <= len(lost) <= 4 and all("a worker process died" in f["message"] for f in lost)
    assert run["summary"]["outcomes"]["compressed"] == len(before) - len(lost)  # a new pool did the rest
    assert {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in before} == before
    resumed = medcodec("compress", str(src), "-o", str(dst), "--jobs", "2", "--resume", "--json")
    stdout, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0 and len(outputs(dst)) == len(before)
