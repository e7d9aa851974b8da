"""``medcodec compress/decompress/transcode/verify/info`` on folders of real images (in-process, via CliRunner)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import medcodec
import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from medcodec.audit import pixel_digest, read_audit
from medcodec.cli import cli
from medcodec.policy import use_policy
from medcodec.testing import shared_dir

#: A small archive: path in the test tree -> path in ../shared/corpus (real CT, MR 12/16-bit, NM, DX).
SAMPLES = {
    "ct/CT1.dcm": "cornerstone3D/CTImage.dcm",
    "mr/MR12.dcm": "dcm_qa_ts/In/4.dcm",
    "mr/MR16.dcm": "dcm4che/dcm4che-assembly/src/etc/testdata/dicom/MR01.dcm",
    "nm/NM1": "dcm4che/dcm4che-test-data/src/main/resources/NM-MONO2-16-13x-heart",
    "dx/DX1.dcm": "highdicom/dx_image.dcm",
}
STANDARD_CODECS = ("jpeg_ls_lossless", "jpeg2000_lossless", "jpeg2000", "jpeg_ls_near_lossless", "rle_lossless",
                   "deflated_image_frame")


@pytest.fixture(autouse=True)
def default_policy() -> Iterator[None]:
    use_policy(None)
    yield
    use_policy(None)


def make_tree(root: Path, samples: dict[str, str] = SAMPLES) -> Path:
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared/corpus is absent")
    for target, source in samples.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / "corpus" / source, path)
    return root


def invoke(*args: str, code: int | None = 0) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--json"])
    if code is not None:
        assert result.exit_code == code, result.output + repr(result.exception)
    return json.loads(result.stdout)


def by_label(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["label"]: f for f in run["files"]}


def test_compress_a_folder_mirrors_it_lists_non_dicom_and_goes_on_after_a_failure(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    (src / "notes.txt").write_text("not an image")
    truncated = src / "ct" / "broken.dcm"
    truncated.write_bytes((src / "ct" / "CT1.dcm").read_bytes()[:-100_000])  # pixel data cut short
    dst = tmp_path / "dst"

    run = invoke("compress", str(src), "-o", str(dst), code=1)

    files = by_label(run)
    assert run["not_dicom"] == ["notes.txt"]
    assert files["ct/broken.dcm"]["outcome"] == "failed" and files["ct/broken.dcm"]["message"]
    for label in SAMPLES:
        assert files[label]["outcome"] == "compressed", files[label]
        assert files[label]["lossy"] is False and files[label]["ratio"] > 1
        assert (dst / label).is_file()
        out = pydicom.dcmread(dst / label)
        assert medcodec.get_codec(str(out.file_meta.TransferSyntaxUID)).lossless
        assert np.array_equal(out.pixel_array, pydicom.dcmread(src / label).pixel_array)
    assert not (dst / "ct" / "broken.dcm").exists() and not (dst / "notes.txt").exists()
    assert sorted(p.name for p in dst.rglob("*") if ".medcodec-tmp-" in p.name) == []

    audit = read_audit(dst / "medcodec-audit.jsonl")
    assert not audit.bad_lines
    outcomes = sorted(r["outcome"] for r in audit.records)
    assert outcomes == ["compressed"] * len(SAMPLES) + ["failed"]
    text = (dst / "medcodec-audit.jsonl").read_text()
    for label in SAMPLES:  # UIDs only: no names, IDs or file paths
        ds = pydicom.dcmread(src / label, stop_before_pixels=True)
        for identifying in (str(ds.get("PatientName", "")), str(ds.get("PatientID", "")), label, str(src)):
            assert not identifying or identifying not in text, identifying
    for record in audit.records:
        if record["outcome"] == "compressed":
            assert record["verified"] is True and record["original_pixel_sha256"] == record["output_pixel_sha256"]
            assert record["codec_version"] and record["milliseconds"] > 0 and record["modality"]

    checked = invoke("verify", str(dst), "--against", str(src))
    assert checked["checked"] == len(SAMPLES) and checked["failed"] == 0
    assert invoke("verify", str(dst))["failed"] == 0  # default: the audit file in the folder


@pytest.mark.parametrize("codec", STANDARD_CODECS)
def test_every_standard_codec_output_is_verified_and_cross_checked(tmp_path: Path, codec: str) -> None:
    samples = {k: v for k, v in SAMPLES.items() if k in ("ct/CT1.dcm", "mr/MR12.dcm")}
    src = make_tree(tmp_path / "src", samples)
    dst = tmp_path / "dst"
    run = invoke("compress", str(src), "-o", str(dst), "--codec", codec, "--cross-check")
    spec = medcodec.get_codec(codec)
    records = read_audit(dst / "medcodec-audit.jsonl").records
    assert len(records) == len(samples)
    for record in records:
        assert record["outcome"] == "compressed" and record["verified"] is True
        assert record["codec"] == codec and record["target_transfer_syntax"] == spec.transfer_syntax
        assert record["lossy"] is (not spec.lossless)
        if codec == "deflated_image_frame":  # no independent decoder knows this syntax
            assert record["cross_check"] == "unsupported"
        else:
            assert record["cross_check"].startswith("passed:"), record["cross_check"]
    for entry in run["files"]:
        out = pydicom.dcmread(dst / entry["label"])
        assert str(out.file_meta.TransferSyntaxUID) == spec.transfer_syntax
        assert (out.get("LossyImageCompression") == "01") is (not spec.lossless)
    checked = invoke("verify", str(dst), "--against", str(src), "--audit", str(dst / "medcodec-audit.jsonl"))
    assert checked["failed"] == 0


def test_lossy_mammography_is_refused_in_a_batch_and_nothing_is_written(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"mg/MG1.dcm": SAMPLES["dx/DX1.dcm"], "ct/CT1.dcm": SAMPLES["ct/CT1.dcm"]})
    ds = pydicom.dcmread(src / "mg" / "MG1.dcm")
    ds.Modality = "MG"
    ds.save_as(src / "mg" / "MG1.dcm")
    dst = tmp_path / "dst"
    result = CliRunner().invoke(cli, ["compress", str(src), "-o", str(dst), "--profile", "viewing"])
    assert result.exit_code == 1
    assert ("refused: mg/MG1.dcm: compression refused by policy rule 'mammography-lossless-only'"
            in " ".join(result.stdout.split()))
    assert not (dst / "mg" / "MG1.dcm").exists() and (dst / "ct" / "CT1.dcm").exists()
    records = {r["outcome"]: r for r in read_audit(dst / "medcodec-audit.jsonl").records}
    assert records["refused"]["modality"] == "MG" and "MG1" not in json.dumps(records["refused"])
    assert records["compressed"]["lossy"] is True and records["compressed"]["modality"] == "CT"


def test_dry_run_decides_but_writes_nothing(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    run = invoke("compress", str(src), "-o", str(tmp_path / "dst"), "--dry-run")
    assert {f["outcome"] for f in run["files"]} == {"dry-run"}
    assert by_label(run)["nm/NM1"]["codec"] == "jpeg_ls_lossless"
    assert not (tmp_path / "dst").exists()


def test_existing_outputs_need_resume_or_overwrite(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"ct/CT1.dcm": SAMPLES["ct/CT1.dcm"]})
    dst = tmp_path / "dst"
    invoke("compress", str(src), "-o", str(dst))
    again = invoke("compress", str(src), "-o", str(dst), code=1)
    assert "exists; use --resume" in again["files"][0]["message"]
    assert invoke("compress", str(src), "-o", str(dst), "--resume")["files"][0]["outcome"] == "skipped"
    assert invoke("compress", str(src), "-o", str(dst), "--overwrite")["files"][0]["outcome"] == "compressed"


def test_in_place_replaces_originals_with_verified_results_and_a_rerun_skips_them(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    originals = {label: pixel_digest(pydicom.dcmread(src / label).pixel_array) for label in SAMPLES}
    (src / "ct" / "CT1.dcm").chmod(0o640)
    audit = tmp_path / "audit.jsonl"
    invoke("compress", str(src), "--in-place", "--audit", str(audit))
    for label, digest in originals.items():
        ds = pydicom.dcmread(src / label)
        assert ds.file_meta.TransferSyntaxUID.is_compressed and pixel_digest(ds.pixel_array) == digest
    assert (src / "ct" / "CT1.dcm").stat().st_mode & 0o777 == 0o640  # the replacement keeps the permissions
    rerun = invoke("compress", str(src), "--in-place", "--audit", str(audit))
    assert {f["outcome"] for f in rerun["files"]} == {"skipped"}
    assert invoke("verify", str(src), "--audit", str(audit))["failed"] == 0


def test_decompress_and_transcode_round_trip_bit_exactly(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {k: SAMPLES[k] for k in ("ct/CT1.dcm", "nm/NM1")})
    invoke("transcode", str(src), "-o", str(tmp_path / "jls"), "--to", "1.2.840.10008.1.2.4.80")
    native = invoke("decompress", str(tmp_path / "jls"), "-o", str(tmp_path / "native"))
    assert {f["outcome"] for f in native["files"]} == {"decompressed"}
    for label in ("ct/CT1.dcm", "nm/NM1"):
        jls = pydicom.dcmread(tmp_path / "jls" / label)
        back = pydicom.dcmread(tmp_path / "native" / label)
        assert jls.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.80"
        assert back.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert np.array_equal(back.pixel_array, pydicom.dcmread(src / label).pixel_array)
    assert invoke("verify", str(tmp_path / "native"), "--against", str(src))["failed"] == 0
    unknown = CliRunner().invoke(cli, ["transcode", str(src), "-o", str(tmp_path / "x"), "--to", "1.2.3"])
    assert unknown.exit_code != 0 and "no codec writes transfer syntax '1.2.3'" in unknown.output


def test_verify_catches_a_changed_pixel_that_is_not_marked_lossy(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"ct/CT1.dcm": SAMPLES["ct/CT1.dcm"]})
    dst = tmp_path / "dst"
    invoke("compress", str(src), "-o", str(dst), "--codec", "jpeg2000_lossless")
    out = pydicom.dcmread(dst / "ct" / "CT1.dcm")
    pixels = out.pixel_array.copy()
    pixels[100, 100] += 1  # silent corruption, same UID, still "lossless"
    out.decompress(generate_instance_uid=False)
    out.PixelData = pixels.tobytes()
    out.compress("1.2.840.10008.1.2.4.90", generate_instance_uid=False)
    out.save_as(dst / "ct" / "CT1.dcm")
    bad = invoke("verify", str(dst), "--against", str(src), "--audit", str(dst / "medcodec-audit.jsonl"), code=1)
    detail = bad["files"][0]["detail"]
    assert "decoded pixels differ from the recorded checksum" in detail
    assert "differs from the original (max error 1) but is not marked lossy" in detail


def test_info_reports_syntax_ratio_and_lossy_flags(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"ct/CT1.dcm": SAMPLES["ct/CT1.dcm"]})
    invoke("compress", str(src), "-o", str(tmp_path / "dst"), "--profile", "viewing")
    (tmp_path / "dst" / "readme.md").write_text("x")
    info = invoke("info", str(src / "ct" / "CT1.dcm"), str(tmp_path / "dst"))
    native, lossy = info["files"]
    assert native["compressed"] is False and native["lossy"] is False and native["ratio"] == pytest.approx(1.0)
    assert lossy["compressed"] is True and lossy["lossy"] is True and lossy["ratio"] > 5
    assert lossy["lossy_methods"] == [medcodec.get_codec(lossy["transfer_syntax"]).lossy_method]
    assert info["not_dicom"] == ["readme.md"]


def test_two_jobs_give_the_same_results_as_one(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    one = invoke("compress", str(src), "-o", str(tmp_path / "one"), "--jobs", "1")
    two = invoke("compress", str(src), "-o", str(tmp_path / "two"), "--jobs", "2")
    # Worker processes, not this one (how the 5 files spread over the 2 workers depends on their start-up).
    assert 1 <= len(two["summary"]["worker_peak_rss_mib"]) <= 2
    assert str(os.getpid()) not in two["summary"]["worker_peak_rss_mib"]
    for label in SAMPLES:
        a, b = by_label(one)[label], by_label(two)[label]
        assert (a["outcome"], a["codec"], a["compressed_bytes"]) == (b["outcome"], b["codec"], b["compressed_bytes"])
        assert (tmp_path / "one" / label).read_bytes() == (tmp_path / "two" / label).read_bytes()
    assert len(read_audit(tmp_path / "two" / "medcodec-audit.jsonl").records) == len(SAMPLES)


def test_bad_invocations_are_clear(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"ct/CT1.dcm": SAMPLES["ct/CT1.dcm"]})
    runner = CliRunner()
    neither = runner.invoke(cli, ["compress", str(src)])
    assert neither.exit_code == 2 and "exactly one of -o/--output DST and --in-place" in neither.output
    inside = runner.invoke(cli, ["compress", str(src), "-o", str(src / "out")])
    assert inside.exit_code == 2 and "is inside source folder" in inside.output
    unknown = runner.invoke(cli, ["compress", str(src), "-o", str(tmp_path / "d"), "--codec", "jpeg_xl"])
    assert unknown.exit_code == 1 and "Unknown codec 'jpeg_xl'" in unknown.output


def test_a_compressed_ybr_source_is_recompressed_without_a_colour_conversion(tmp_path: Path) -> None:
    """pydicom's default decode turns YBR_FULL into RGB (a rounding step); a lossless run must not."""
    from medcodec.pipeline import stored_pixels

    ybr = "dcm4che/dcm4che-test-data/src/main/resources/YBR_FULL-RLE.dcm"
    src = make_tree(tmp_path / "src", {"us/YBR.dcm": ybr})
    dst = tmp_path / "dst"
    invoke("compress", str(src), "-o", str(dst), "--codec", "jpeg_ls_lossless", "--cross-check")
    out = pydicom.dcmread(dst / "us" / "YBR.dcm")
    assert out.PhotometricInterpretation == "YBR_FULL"
    assert np.array_equal(stored_pixels(out), stored_pixels(pydicom.dcmread(src / "us" / "YBR.dcm")))
    [record] = read_audit(dst / "medcodec-audit.jsonl").records
    assert record["source_transfer_syntax"] == "1.2.840.10008.1.2.5"
    assert record["cross_check"] == "passed:dcmdjpls"
    assert invoke("verify", str(dst), "--against", str(src))["failed"] == 0


def test_a_source_no_decoder_can_read_is_reported_with_its_syntax(tmp_path: Path) -> None:
    progressive = "cornerstone3D/CTImage.dcm_JPEGProcess10_12TransferSyntax_1.2.840.10008.1.2.4.55.dcm"
    src = make_tree(tmp_path / "src", {"ct/progressive.dcm": progressive, "ct/CT1.dcm": SAMPLES["ct/CT1.dcm"]})
    before = (src / "ct" / "progressive.dcm").read_bytes()
    run = invoke("compress", str(src), "-o", str(tmp_path / "dst"), code=1)
    failed = by_label(run)["ct/progressive.dcm"]
    assert failed["outcome"] == "failed"
    assert failed["message"].startswith("SourceDecodeError: the source pixel data (JPEG Full Progression, "
                                        "Non-Hierarchical (Process 10 and 12), 1.2.840.10008.1.2.4.55) cannot be "
                                        "decoded: NotImplementedError")
    assert by_label(run)["ct/CT1.dcm"]["outcome"] == "compressed"
    assert (src / "ct" / "progressive.dcm").read_bytes() == before
    [failure] = [r for r in read_audit(tmp_path / "dst" / "medcodec-audit.jsonl").records if r["outcome"] == "failed"]
    assert failure["source_transfer_syntax"] == "1.2.840.10008.1.2.4.55" and "progressive" not in json.dumps(failure)


def test_a_result_failing_verification_leaves_the_original_in_place(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"ct/CT1.dcm": SAMPLES["ct/CT1.dcm"]})
    before = (src / "ct" / "CT1.dcm").read_bytes()
    strict = tmp_path / "strict.toml"
    strict.write_text("[profiles.viewing]\nmin_psnr = 90.0\n")  # no lossy CT result reaches 90 dB
    audit = tmp_path / "audit.jsonl"
    run = invoke("compress", str(src), "--in-place", "--profile", "viewing", "--policy", str(strict),
                 "--audit", str(audit), code=1)
    [entry] = run["files"]
    assert entry["outcome"] == "failed"
    assert "VerificationError" in entry["message"] and "is below the required 90 dB" in entry["message"]
    assert (src / "ct" / "CT1.dcm").read_bytes() == before
    assert not [p for p in src.rglob("*") if ".medcodec-tmp-" in p.name]
    [record] = read_audit(audit).records
    assert record["outcome"] == "failed" and "verified" not in record


def test_a_failed_write_is_audited_without_file_names(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"DOE_JANE/CT1.dcm": SAMPLES["ct/CT1.dcm"]})
    dst = tmp_path / "dst"
    (dst / "DOE_JANE" / "CT1.dcm").mkdir(parents=True)  # the rename onto a folder fails
    run = invoke("compress", str(src), "-o", str(dst), "--overwrite", code=1)
    assert "IsADirectoryError" in run["files"][0]["message"] and "DOE_JANE" in run["files"][0]["message"]
    audit = read_audit(dst / "medcodec-audit.jsonl")
    # The line written just before the rename is withdrawn by the failure that follows it.
    assert [r["outcome"] for r in audit.records] == ["compressed", "failed"]
    assert audit.latest_by_output() == {}
    failed = audit.records[1]
    assert "IsADirectoryError" in failed["error"] and failed["attempt"] == audit.records[0]["attempt"]
    assert "DOE_JANE" not in (dst / "medcodec-audit.jsonl").read_text()
    assert "CT1" not in (dst / "medcodec-audit.jsonl").read_text()
    assert not [p for p in dst.rglob("*") if ".medcodec-tmp-" in p.name]
