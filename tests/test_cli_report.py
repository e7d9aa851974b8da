"""``medcodec report``: HTML and PNG summaries of a real run's audit trail."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from medcodec.cli import cli
from medcodec.policy import use_policy
from medcodec.report import ReportError, aggregate, write_report
from medcodec.testing import shared_dir

SAMPLES = {
    "ct/CT1.dcm": "cornerstone3D/CTImage.dcm",
    "mr/MR12.dcm": "dcm_qa_ts/In/4.dcm",
    "nm/NM1": "dcm4che/dcm4che-test-data/src/main/resources/NM-MONO2-16-13x-heart",
}


@pytest.fixture(scope="module")
def audit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One lossless and one viewing run over real CT, MR and NM images, into one audit trail."""
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared/corpus is absent")
    root = tmp_path_factory.mktemp("report")
    for target, source in SAMPLES.items():
        (root / "src" / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / "corpus" / source, root / "src" / target)
    audit = root / "audit.jsonl"
    runner = CliRunner()
    try:
        for name, extra in (("lossless", []), ("viewing", ["--profile", "viewing"])):
            done = runner.invoke(cli, ["compress", str(root / "src"), "-o", str(root / name), "--audit", str(audit),
                                       *extra])
            assert done.exit_code == 0, done.output
    finally:
        use_policy(None)
    return audit


def test_report_png_and_html(audit_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    png, page = tmp_path / "report.png", tmp_path / "report.html"
    done = runner.invoke(cli, ["report", str(audit_file), "-o", str(png), "--json"])
    assert done.exit_code == 0, done.output
    groups = json.loads(done.stdout)["groups"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    pairs = {(g["modality"], g["codec"]) for g in groups}
    assert {m for m, _ in pairs} == {"CT", "MR", "NM"}
    assert ("NM", "jpeg_ls_lossless") in pairs and any(g["lossy"] for g in groups)
    for g in groups:
        assert g["ratio"] > 1 and g["mb_per_second"] > 0
        if g["lossy"]:
            assert g["min_psnr"] >= 45.0  # the viewing profile's floor held for every instance

    assert runner.invoke(cli, ["report", str(audit_file), "-o", str(page)]).exit_code == 0
    html = page.read_text()
    assert html.count("<tr>") == len(groups) + 1 and "data:image/png;base64," in html
    assert "<td>jpeg_ls_lossless</td>" in html


def test_report_counts_each_instance_once_after_a_resumed_run(audit_file: Path, tmp_path: Path) -> None:
    doubled = tmp_path / "doubled.jsonl"
    lines = audit_file.read_text().splitlines()
    doubled.write_text("\n".join(lines + lines[:1]) + "\n")  # a resumed run repeated one instance
    assert aggregate(doubled).totals["instances"] == aggregate(audit_file).totals["instances"] == 2 * len(SAMPLES)


def test_report_errors_are_clear(audit_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"report output '.*report.pdf' must end in .html or .png"):
        write_report(audit_file, tmp_path / "report.pdf")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ReportError, match=r"audit file '.*empty.jsonl' has no records"):
        write_report(empty, tmp_path / "r.png")
    result = CliRunner().invoke(cli, ["report", str(empty)])
    assert result.exit_code == 1 and "has no records" in result.output
