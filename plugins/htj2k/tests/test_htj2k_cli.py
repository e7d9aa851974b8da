"""``medcodec htj2k info`` and ``medcodec htj2k thumbnail`` on real files."""

from __future__ import annotations

import json
from pathlib import Path

import imagecodecs
import medcodec
import pytest
from click.testing import CliRunner
from medcodec.cli import cli as main
from medcodec_plugin_htj2k.plugin import HTJ2KLosslessRPCL


@pytest.fixture
def htj2k_file(real_dataset, tmp_path: Path) -> Path:
    medcodec.install()
    ds = real_dataset("nm16_13_frames")
    ds.compress(HTJ2KLosslessRPCL)
    path = tmp_path / "nm.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_info_reports_every_frame_conformant(htj2k_file: Path) -> None:
    result = CliRunner().invoke(main, ["htj2k", "info", str(htj2k_file)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["codec"] == "htj2k_lossless_rpcl" and len(report["frames"]) == 13
    assert all(f["problems"] == [] and f["progression"] == "RPCL" and f["tlm"] for f in report["frames"])


def test_thumbnail_writes_a_png(htj2k_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "thumb.png"
    result = CliRunner().invoke(main, ["htj2k", "thumbnail", str(htj2k_file), str(out), "--size", "16",
                                       "--frame", "12"])
    assert result.exit_code == 0, result.output
    assert imagecodecs.png_decode(out.read_bytes()).shape == (16, 16)


def test_non_htj2k_file_is_refused(real_dataset, tmp_path: Path) -> None:
    path = tmp_path / "ct.dcm"
    real_dataset("CT_small.dcm").save_as(path)
    result = CliRunner().invoke(main, ["htj2k", "info", str(path)])
    assert result.exit_code == 1 and "is not an HTJ2K syntax" in result.output
