"""``medcodec huffman`` end to end on real files: naming, folders, no-clobber, --force, verified deletion,
damaged input, encryption with key files, and the hook that adds the group to the core CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from medcodec_plugin_huffman import codec, plugin
from medcodec_plugin_huffman.cli import huffman


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(huffman, [str(a) for a in args])


@pytest.fixture
def study(tmp_path: Path, ct_file: Path, jpeg2000_file: Path) -> Path:
    """A folder of real DICOM files, one in a sub-folder."""
    folder = tmp_path / "study"
    (folder / "series2").mkdir(parents=True)
    shutil.copy(ct_file, folder / "ct.dcm")
    shutil.copy(jpeg2000_file, folder / "series2" / "j2k.dcm")
    return folder


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*.tmp")]


def test_pack_and_unpack_one_file_next_to_it(study: Path) -> None:
    source = study / "ct.dcm"
    original = source.read_bytes()
    result = run("pack", source)
    assert result.exit_code == 0, result.output
    assert "Huffman; verified" in result.output
    packed = study / "ct.dcm.huf"
    assert len(packed.read_bytes()) < len(original)
    assert source.read_bytes() == original  # never deleted unless asked

    source.unlink()
    result = run("unpack", packed)
    assert result.exit_code == 0, result.output
    assert "checksum OK" in result.output
    assert source.read_bytes() == original
    assert packed.exists()
    assert _no_temp_files(study)


def test_single_file_output_name(study: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "x.huf"
    assert run("pack", study / "ct.dcm", "-o", target).exit_code == 0
    assert run("unpack", target, "-o", tmp_path / "back.dcm").exit_code == 0
    assert (tmp_path / "back.dcm").read_bytes() == (study / "ct.dcm").read_bytes()


def test_single_file_into_an_existing_folder(study: Path, tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    assert run("pack", study / "ct.dcm", "-o", folder).exit_code == 0
    assert (folder / "ct.dcm.huf").is_file()


def test_several_inputs_need_an_output_folder(study: Path, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file.huf"
    not_a_folder.write_bytes(b"keep")
    result = run("pack", study, "-o", not_a_folder)
    assert result.exit_code == 1
    assert "-o must name a folder" in result.output
    assert not_a_folder.read_bytes() == b"keep"


def test_folders_mirror_their_tree_in_the_output_folder(study: Path, tmp_path: Path) -> None:
    packed_dir, restored_dir = tmp_path / "packed", tmp_path / "restored"
    result = run("pack", study, "-o", packed_dir)
    assert result.exit_code == 0, result.output
    assert "2 of 2 files done" in result.output
    assert "stored raw (Huffman would not shrink it)" in result.output  # the JPEG 2000 file
    assert sorted(p.relative_to(packed_dir).as_posix() for p in packed_dir.rglob("*.huf")) == [
        "ct.dcm.huf", "series2/j2k.dcm.huf"]

    result = run("unpack", packed_dir, "-o", restored_dir)
    assert result.exit_code == 0, result.output
    for original in study.rglob("*.dcm"):
        assert (restored_dir / original.relative_to(study)).read_bytes() == original.read_bytes()


def test_existing_output_is_never_overwritten_without_force(study: Path) -> None:
    source = study / "ct.dcm"
    target = study / "ct.dcm.huf"
    target.write_bytes(b"precious")
    result = run("pack", source)
    assert result.exit_code == 1
    assert f"Cannot pack '{source}': the output '{target}' already exists; use --force" in result.output
    assert target.read_bytes() == b"precious"
    assert _no_temp_files(study)

    result = run("pack", "--force", source)
    assert result.exit_code == 0, result.output
    assert codec.unpack_bytes(target.read_bytes()) == source.read_bytes()


def test_delete_originals_only_after_verified_success(study: Path) -> None:
    source = study / "ct.dcm"
    original = source.read_bytes()
    (study / "ct.dcm.huf").write_bytes(b"in the way")
    assert run("pack", "--delete-originals", source).exit_code == 1
    assert source.read_bytes() == original  # the failed job kept its input

    (study / "ct.dcm.huf").unlink()
    result = run("pack", "--delete-originals", source)
    assert result.exit_code == 0, result.output
    assert "original deleted" in result.output
    assert not source.exists()
    assert run("unpack", "--delete-originals", study / "ct.dcm.huf").exit_code == 0
    assert source.read_bytes() == original
    assert not (study / "ct.dcm.huf").exists()


def test_damaged_file_is_refused_naming_it_and_writes_nothing(study: Path, tmp_path: Path) -> None:
    assert run("pack", study / "ct.dcm").exit_code == 0
    packed = study / "ct.dcm.huf"
    blob = bytearray(packed.read_bytes())
    blob[len(blob) // 2] ^= 0x40
    packed.write_bytes(bytes(blob))
    target = tmp_path / "out.dcm"
    result = run("unpack", "--delete-originals", packed, "-o", target)
    assert result.exit_code == 1
    assert f"Cannot unpack '{packed}':" in result.output
    assert "damaged" in result.output or "corrupt" in result.output
    assert not target.exists()
    assert packed.exists()  # never deleted when unpacking failed


def test_batch_goes_on_after_a_failure_and_exits_1(study: Path, tmp_path: Path) -> None:
    (study / "ct.dcm.huf").write_bytes(b"not packed at all")
    assert run("pack", study / "series2" / "j2k.dcm").exit_code == 0
    result = run("unpack", study, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "not a medcodec Huffman file" in result.output
    assert "1 of 2 files done" in result.output
    assert (tmp_path / "out" / "series2" / "j2k.dcm").exists()


def test_usage_errors(study: Path) -> None:
    result = run("unpack", study / "ct.dcm")
    assert result.exit_code == 1
    assert "does not end in '.huf'" in result.output
    result = run("pack", study / "missing.dcm")
    assert result.exit_code == 1
    assert "no such file or folder" in result.output
    result = run("pack", "--encrypt", study / "ct.dcm")
    assert result.exit_code == 2
    assert "--encrypt needs --key KEYFILE" in result.output
    result = run("pack", study / "ct.dcm", study / "ct.dcm")
    assert result.exit_code == 1
    assert "would be written there" in result.output


def test_encryption_with_key_files(study: Path, tmp_path: Path) -> None:
    key_file, other_key = tmp_path / "team.key", tmp_path / "other.key"
    assert run("keygen", key_file).exit_code == 0
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert run("keygen", key_file).exit_code == 1  # never overwritten without --force
    assert run("keygen", other_key).exit_code == 0

    source = study / "ct.dcm"
    result = run("pack", "--encrypt", "--key", key_file, source, "-o", tmp_path / "ct.huf")
    assert result.exit_code == 0, result.output
    assert "encrypted; verified" in result.output
    assert b"DICM" not in (tmp_path / "ct.huf").read_bytes()

    result = run("unpack", tmp_path / "ct.huf", "-o", tmp_path / "a.dcm")
    assert result.exit_code == 1 and "the file is encrypted: give the key file" in result.output
    result = run("unpack", "--key", other_key, tmp_path / "ct.huf", "-o", tmp_path / "a.dcm")
    assert result.exit_code == 1 and "wrong key, or the file was altered" in result.output
    assert not (tmp_path / "a.dcm").exists()
    result = run("unpack", "--key", key_file, tmp_path / "ct.huf", "-o", tmp_path / "a.dcm")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.dcm").read_bytes() == source.read_bytes()


def test_bad_key_file(tmp_path: Path, study: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not hex\n")
    result = run("pack", "--encrypt", "--key", bad, study / "ct.dcm")
    assert result.exit_code == 1
    assert f"Key file '{bad}' does not hold a 256-bit key" in result.output


def test_info_shows_the_header(study: Path) -> None:
    assert run("pack", study / "ct.dcm").exit_code == 0
    result = run("info", study / "ct.dcm.huf")
    assert result.exit_code == 0
    assert f"huffman, original {(study / 'ct.dcm').stat().st_size} bytes, CRC-32 0x" in result.output


def test_hook_adds_the_group_to_the_medcodec_command() -> None:
    @click.group()
    def cli() -> None:
        pass

    plugin.medcodec_register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["huffman", "--help"])
    assert result.exit_code == 0
    assert "Huffman coding is NOT encryption" in result.output
    for command in ("pack", "unpack", "keygen", "info"):
        assert command in result.output


def test_real_medcodec_command_packs_and_unpacks(study: Path, tmp_path: Path) -> None:
    # End to end through the installed console script and the entry point, in a fresh interpreter.
    import subprocess
    import sys

    script = Path(sys.executable).with_name("medcodec")
    if not script.exists():
        pytest.skip("the 'medcodec' console script is not installed in this environment")
    source, packed, restored = study / "ct.dcm", tmp_path / "ct.huf", tmp_path / "ct.dcm"
    done = subprocess.run([script, "huffman", "pack", source, "-o", packed], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([script, "huffman", "unpack", packed, "-o", restored], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert restored.read_bytes() == source.read_bytes()
