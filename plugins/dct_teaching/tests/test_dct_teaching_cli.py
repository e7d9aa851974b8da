"""``medcodec mmpc encode|decode|rd`` through the core's command line, on real files."""

from __future__ import annotations

import copy
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner, Result
from medcodec.cli import cli
from medcodec.testing import make_dataset
from medcodec_plugin_dct_teaching.quantise import max_pixel_error
from PIL import Image
from pydicom.data import get_testdata_file

CT_SMALL = Path(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, ["mmpc", *map(str, args)], catch_exceptions=False)


def test_encode_matches_the_golden_file_and_decode_to_png_matches_the_reference(
        tmp_path: Path, mmpc_golden: Path) -> None:
    out = tmp_path / "ct.mmpc"
    result = run("encode", CT_SMALL, out, "--quality", 60)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (mmpc_golden / "CT_small_q60.mmpc").read_bytes()
    assert "MMPC v1" in result.output and "ratio" in result.output
    png = tmp_path / "ct.png"
    assert run("decode", out, png).exit_code == 0
    with Image.open(png) as ours, Image.open(mmpc_golden / "CT_small_q60_ref.png") as reference:
        np.testing.assert_array_equal(np.array(ours), np.array(reference))


def test_signed_ct_to_dicom_keeps_metadata_and_is_marked_lossy(tmp_path: Path, shared_dir: Path) -> None:
    source = shared_dir / "corpus/cornerstone3D/CTImage.dcm"
    stream = tmp_path / "ct.mmpc"
    assert run("encode", source, stream, "-q", 20).exit_code == 0
    assert "MMPC v2" in run("encode", source, tmp_path / "again.mmpc", "-q", 20).output
    out = tmp_path / "ct.dcm"
    result = run("decode", stream, out, "--source", source)
    assert result.exit_code == 0, result.output
    original, decoded = pydicom.dcmread(source), pydicom.dcmread(out)
    assert decoded.StudyInstanceUID == original.StudyInstanceUID
    assert decoded.SeriesInstanceUID == original.SeriesInstanceUID
    assert decoded.SOPInstanceUID != original.SOPInstanceUID
    assert decoded.LossyImageCompression == "01" and decoded.LossyImageCompressionMethod == "MEDCODEC_MMPC"
    assert float(decoded.LossyImageCompressionRatio) == pytest.approx(512 * 512 * 2 / stream.stat().st_size, rel=1e-3)
    assert decoded.pixel_array.min() <= -1990
    assert np.abs(decoded.pixel_array.astype(np.int64) - original.pixel_array).max() <= max_pixel_error(20)
    # a PNG cannot hold -2000: refused, not clipped
    refused = run("decode", stream, tmp_path / "ct.png")
    assert refused.exit_code == 1 and "cannot hold the negative samples" in refused.output


def test_folder_of_slices_round_trips_as_a_volume(tmp_path: Path, nm_volume: pydicom.Dataset) -> None:
    folder = tmp_path / "slices"
    folder.mkdir()
    frames = nm_volume.pixel_array
    for index in (2, 0, 1):  # written out of order: the encoder sorts by name
        Image.fromarray(frames[index]).save(folder / f"slice_{index}.png")
    stream = tmp_path / "vol.mmpc"
    assert run("encode", folder, stream, "--profile", "improved").exit_code == 0
    npy = tmp_path / "vol.npy"
    assert run("decode", stream, npy).exit_code == 0
    volume = np.load(npy)
    assert volume.shape == (3, 64, 64)
    assert np.abs(volume.astype(np.int64) - frames[:3]).max() <= max_pixel_error(30) + 15
    multi = tmp_path / "vol.dcm"
    assert run("decode", stream, multi).exit_code == 0
    ds = pydicom.dcmread(multi)
    assert ds.NumberOfFrames == 3 and ds.PatientName == "" and ds.LossyImageCompression == "01"


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda b: b"JUNK" + b[4:], "wrong magic b'JUNK'"),
    (lambda b: b[:1000], "truncated MMPC payload"),
    (lambda b: b[:5] + b"\x00\x40" + b[7:], "payload length mismatch"),
    (lambda b: b[:9] + b"\x18" + b[10:], "unsupported MMPC bit depth 24"),
])
def test_decode_errors_name_the_file_the_codec_and_the_problem(
        tmp_path: Path, mmpc_golden: Path, mutate: object, message: str) -> None:
    bad = tmp_path / "bad.mmpc"
    bad.write_bytes(mutate((mmpc_golden / "CT_small_q10.mmpc").read_bytes()))  # type: ignore[operator]
    result = run("decode", bad, tmp_path / "out.npy")
    assert result.exit_code == 1
    assert f"{bad}: codec 'dct_teaching' (MMPC):" in result.output and message in result.output
    assert not (tmp_path / "out.npy").exists()


def test_encode_refuses_what_it_cannot_code(tmp_path: Path) -> None:
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(rgb)
    result = run("encode", rgb, tmp_path / "x.mmpc")
    assert result.exit_code == 1 and "greyscale" in result.output
    deep = tmp_path / "deep.dcm"
    ds = make_dataset(8, 8, bits_stored=16)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31  # a 32-bit DICOM image
    ds.PixelData = np.full((8, 8), 70000, dtype="<u4").tobytes()
    ds.save_as(deep, enforce_file_format=True)
    refused = run("encode", deep, tmp_path / "z.mmpc")
    assert refused.exit_code == 1 and "unsupported bit depth" in refused.output and str(deep) in refused.output
    forced = run("encode", get_testdata_file("MR_small.dcm"), tmp_path / "y.mmpc", "-q", 1, "--version", 1)
    assert forced.exit_code == 0  # MR_small's DCs fit int16 even at step 1


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_rd_study_writes_csv_plot_and_maps(tmp_path: Path, mmpc_golden: Path) -> None:
    out = tmp_path / "rd"
    result = run("rd", CT_SMALL, get_testdata_file("MR_small.dcm"), "--qualities", "10,60", "--out", out)
    assert result.exit_code == 0, result.output
    rows = _read_csv(out / "summary.csv")
    assert len(rows) == 2 * 2 * 7
    seed = {(r["image"], r["quality"]): r for r in rows if r["pipeline"] == "seed"}
    # the seed rows are the golden files' sizes, and bpp/ratio follow from them
    assert int(seed["CT_small", "10"]["bytes"]) == (mmpc_golden / "CT_small_q10.mmpc").stat().st_size
    assert float(seed["CT_small", "10"]["bpp"]) == pytest.approx(12516 * 8 / (128 * 128), rel=1e-5)
    assert float(seed["MR_small", "60"]["psnr_bits_db"]) > float(seed["MR_small", "60"]["psnr_range_db"])
    improved = {(r["image"], r["quality"]): r for r in rows if r["pipeline"] == "improved"}
    assert all(int(improved[k]["bytes"]) < int(seed[k]["bytes"]) for k in seed)
    assert len(_read_csv(out / "ablation_rle.csv")) == 4
    for name in ("rd_plot.png", "CT_small_panel.png", "CT_small_q60_seed_err.png", "MR_small_q10_improved_rec.png"):
        with Image.open(out / name) as picture:
            assert picture.size[0] > 0


def test_rd_rejects_bad_arguments(tmp_path: Path) -> None:
    bad: Sequence[tuple[str, ...]] = (("--qualities", "10,x"), ("--roi-box", "1,2,3"))
    for extra in bad:
        result = CliRunner().invoke(cli, ["mmpc", "rd", str(CT_SMALL), "--out", str(tmp_path), *extra])
        assert result.exit_code == 2


def test_folder_of_dicom_slices_decodes_to_one_file_per_source(tmp_path: Path, nm_volume: pydicom.Dataset) -> None:
    folder = tmp_path / "series"
    folder.mkdir()
    frames = nm_volume.pixel_array
    for index in range(3):
        ds = copy.deepcopy(nm_volume)
        del ds.NumberOfFrames
        ds.set_pixel_data(frames[index], "MONOCHROME2", 16, generate_instance_uid=True)
        ds.InstanceNumber = 3 - index  # the file order is the reverse of the slice order
        ds.save_as(folder / f"f{index}.dcm", enforce_file_format=True)
    stream = tmp_path / "series.mmpc"
    assert run("encode", folder, stream, "-q", 10).exit_code == 0
    out = tmp_path / "decoded"
    result = run("decode", stream, out, "--source", folder)
    assert result.exit_code == 0, result.output
    decoded = [pydicom.dcmread(p) for p in sorted(out.iterdir())]
    sources = sorted((pydicom.dcmread(p) for p in folder.iterdir()), key=lambda d: d.InstanceNumber)
    assert [d.InstanceNumber for d in decoded] == [1, 2, 3]
    for got, source in zip(decoded, sources):
        assert got.SOPInstanceUID != source.SOPInstanceUID and got.LossyImageCompression == "01"
        assert np.abs(got.pixel_array.astype(np.int64) - source.pixel_array).max() <= max_pixel_error(10)


def test_explain_follows_a_block_and_adds_up_to_the_golden_file(mmpc_golden: Path) -> None:
    result = run("explain", CT_SMALL, "-q", 30, "--block", "8,8")
    assert result.exit_code == 0, result.output
    assert "DC 12704.000 = 8 x 1588.000" in result.output
    assert "36 of 64 levels are non-zero" in result.output
    size = (mmpc_golden / "CT_small_q30.mmpc").stat().st_size
    assert f"{size} bytes = {size * 8 / 128**2:.3f} bpp" in result.output
    outside = run("explain", CT_SMALL, "--block", "16,0")
    assert outside.exit_code == 1 and "outside the 16 x 16 block grid" in outside.output
