"""The audit trail: several processes appending at once, torn lines, the hook sink, and no patient data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import medcodec
import numpy as np
import pydicom
import pytest
from medcodec.audit import AUDIT_KEYS, AuditLog, pixel_digest, read_audit, record_to, scrub

LINES_PER_WRITER = 400


#: A writer process: appends LINES lines, longer than PIPE_BUF (4096) and of a size particular to the writer.
WRITER = """
import sys
from medcodec.audit import AuditLog
path, writer, lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
log = AuditLog(path)
padding = "x" * (5000 + 97 * writer)
for n in range(lines):
    log.write({"outcome": "compressed", "run_id": str(writer), "error": f"{n}:{padding}"})
log.close()
"""


def test_several_processes_append_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), str(LINES_PER_WRITER)])
               for w in range(4)]
    for p in writers:
        assert p.wait(120) == 0
    audit = read_audit(path)
    assert audit.bad_lines == []
    assert len(audit.records) == 4 * LINES_PER_WRITER
    for writer in range(4):
        numbers = [int(r["error"].split(":")[0]) for r in audit.records if r["run_id"] == str(writer)]
        assert numbers == list(range(LINES_PER_WRITER))  # each writer's lines complete and in order


def test_a_torn_last_line_is_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).write({"outcome": "compressed"})
    with path.open("a") as fh:
        fh.write('{"outcome": "compre')  # what kill -9 in the middle of a write could leave
    audit = read_audit(path)
    assert len(audit.records) == 1 and audit.bad_lines == [2]


def test_scrub_keeps_only_documented_keys() -> None:
    record = {"outcome": "compressed", "PatientName": "DOE^JANE", "path": "/data/DOE_JANE/1.dcm"}
    assert scrub(record) == {"outcome": "compressed"}
    assert "PatientName" not in AUDIT_KEYS and "path" not in AUDIT_KEYS


def test_pixel_digest_depends_on_values_shape_and_type_not_byte_order() -> None:
    a = np.arange(12, dtype="<u2").reshape(3, 4)
    assert pixel_digest(a) == pixel_digest(a.astype(">u2"))
    assert pixel_digest(a) != pixel_digest(a.reshape(4, 3))
    assert pixel_digest(a) != pixel_digest(a.astype("<i2"))
    b = a.copy()
    b[2, 3] += 1
    assert pixel_digest(a) != pixel_digest(b)


def test_record_to_writes_every_pipeline_outcome_as_a_hook(tmp_path: Path) -> None:
    path = tmp_path / "gateway.jsonl"
    ds = pydicom.examples.ct
    with record_to(path):
        medcodec.compress(ds, "jpeg_ls_lossless")
        mg = pydicom.examples.ct
        mg.Modality = "MG"
        with pytest.raises(medcodec.PolicyRefusedError):
            medcodec.compress(mg, profile="viewing")
    medcodec.compress(pydicom.examples.ct, "rle_lossless")  # after the block: not recorded
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["outcome"] for r in lines] == ["compressed", "refused"]
    assert lines[0]["old_sop_instance_uid"] == ds.SOPInstanceUID and lines[0]["verified"] is True
    assert str(ds.PatientName) not in path.read_text()
