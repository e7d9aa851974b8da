"""``medcodec pacs recompress`` on a populated Orthanc: dry run, kill -9 mid-run, resume, verify, roll back."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from medcodec.audit import pixel_digest
from medcodec.pacs.orthanc import OrthancClient
from pydicom import dcmread
from pydicom.uid import generate_uid

pytestmark = pytest.mark.orthanc

NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}
COPIES = 4


def _populate(client: OrthancClient, images: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """Upload COPIES re-identified copies (new SOP Instance UIDs) of real CT, MR and MG images over REST.

    Returns {SOPInstanceUID: (pixel digest, sha256 of the uploaded file)}.
    """
    expected = {}
    for label in ("CT", "MR", "MG"):
        for copy in range(COPIES):
            ds = dcmread(images[label])
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
                entropy_srcs=[label, str(copy), "recompress-test"])
            buffer = BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            data = buffer.getvalue()
            client.upload(data)
            expected[str(ds.SOPInstanceUID)] = (pixel_digest(ds.pixel_array), hashlib.sha256(data).hexdigest())
    return expected


def _snapshot(client: OrthancClient) -> dict[str, tuple[str, str, str]]:
    """{SOPInstanceUID: (transfer syntax, pixel digest, sha256)} of everything in Orthanc."""
    out = {}
    for uid, instance_id in client.sop_instance_uids().items():
        data = client.instance_file(instance_id)
        ds = dcmread(BytesIO(data))
        out[uid] = (str(ds.file_meta.TransferSyntaxUID), pixel_digest(ds.pixel_array),
                    hashlib.sha256(data).hexdigest())
    return out


def test_recompress_dry_run_kill_resume_and_rollback(orthanc: Any, images: dict[str, Path], tmp_path: Path,
                                                     helpers: Any) -> None:
    client = OrthancClient(orthanc.url)
    expected = _populate(client, images)
    state = tmp_path / "state"
    base = helpers.command("pacs", "recompress", "--url", orthanc.url, "--state", str(state),
                           "--profile", "diagnostic")

    # Dry run: encodes and verifies, changes nothing.
    dry = subprocess.run([*base, "--dry-run"], check=False, capture_output=True, text=True, env=helpers.env(), timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["dry_run"] == len(expected)
    assert {u: v[2] for u, v in _snapshot(client).items()} == {u: v[1] for u, v in expected.items()}
    assert not (state / "journal.jsonl").exists()

    # A run killed (SIGKILL) after a few instances were replaced ...
    journal = state / "journal.jsonl"
    proc = subprocess.Popen([*base, "--pause", "0.5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=helpers.env())
    try:
        helpers.wait_for(lambda: journal.is_file() and journal.read_text().count('"step": "done"') >= 2, 120,
                         "two instances replaced", interval=0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    done_before = journal.read_text().count('"step": "done"')
    assert done_before < len(expected), "the run finished before it could be killed"
    mid = _snapshot(client)
    assert set(mid) == set(expected)  # nothing lost mid-run

    # ... is resumed by the next run, which finishes the job.
    resumed = subprocess.run(base, check=False, capture_output=True, text=True, env=helpers.env(), timeout=180)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["failed"] == 0 and summary["replaced"] + done_before >= len(expected)

    after = _snapshot(client)
    assert set(after) == set(expected), "instances were lost or duplicated"
    for uid, (ts, digest, _sha) in after.items():
        assert ts not in NATIVE, f"{uid} is still {ts}"
        assert digest == expected[uid][0], f"{uid}: pixels changed"
    assert len(list((state / "originals").glob("*.dcm"))) == len(expected)
    audit = [json.loads(line) for line in (state / "audit.jsonl").read_text().splitlines() if line.strip()]
    assert {r["old_sop_instance_uid"] for r in audit if r.get("outcome") == "encoded"} == set(expected)

    # Rollback puts the original bytes back.
    back = subprocess.run(helpers.command("pacs", "rollback", "--url", orthanc.url, "--state", str(state)),
                          check=False, capture_output=True, text=True, env=helpers.env(), timeout=120)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["failed"] == 0
    assert {u: v[2] for u, v in _snapshot(client).items()} == {u: v[1] for u, v in expected.items()}


def test_recompress_with_overwrite_disabled_replaces_in_place(orthanc_factory: Any, images: dict[str, Path],
                                                               tmp_path: Path, helpers: Any) -> None:
    """Orthanc's default OverwriteInstances=false answers AlreadyStored: delete-then-upload, journaled."""
    orthanc = orthanc_factory("no-overwrite", config={"OverwriteInstances": False})
    client = OrthancClient(orthanc.url)
    data = images["MR"].read_bytes()
    instance_id = client.upload(data)["ID"]
    assert client.upload(data)["Status"] == "AlreadyStored"
    from medcodec.pacs.recompress import Recompressor

    summary = Recompressor(client, tmp_path / "state", profile="diagnostic").run()
    assert summary["replaced"] == 1 and summary["failed"] == 0
    assert client.instances() == [instance_id]
    ds = dcmread(BytesIO(client.instance_file(instance_id)))
    assert str(ds.file_meta.TransferSyntaxUID) not in NATIVE
    assert pixel_digest(ds.pixel_array) == pixel_digest(dcmread(images["MR"]).pixel_array)
    steps = [json.loads(line)["step"] for line in (tmp_path / "state" / "journal.jsonl").read_text().splitlines()]
    assert steps == ["saved", "encoded", "deleting-old", "uploaded", "done"]
