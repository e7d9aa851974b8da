"""The compression policy on real images: regulatory refusals, profiles, thresholds, rules, TOML files, explain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import medcodec
import pydicom
import pytest
from click.testing import CliRunner
from medcodec.policy import PolicyError, explain, load_policy, preset_names, use_policy
from medcodec.registry import CompressionRequest
from medcodec.testing import shared_dir

MAMMOGRAPHY_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"


@pytest.fixture(autouse=True)
def default_policy() -> Iterator[None]:
    use_policy(None)
    yield
    use_policy(None)


def corpus(relative: str) -> Path:
    shared = shared_dir()
    if shared is None or not (shared / "corpus" / relative).is_file():
        pytest.skip(f"shared corpus image {relative} is absent")
    return shared / "corpus" / relative


def real_ct() -> pydicom.Dataset:
    return pydicom.dcmread(corpus("cornerstone3D/CTImage.dcm"))


def real_mammogram(*, modality: str = "MG", sop_class: str | None = None) -> pydicom.Dataset:
    """A real radiograph (highdicom's DX) labelled as a mammogram: the corpus has no MG file of its own."""
    ds = pydicom.dcmread(corpus("highdicom/dx_image.dcm"))
    ds.Modality = modality
    if sop_class:
        ds.SOPClassUID = sop_class
    return ds


# --- regulatory rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("request_kwargs", [{"profile": "viewing"}, {"profile": "thumbnail"},
                                            {"codec": "jpeg2000"}, {"codec": "jpeg_ls_near_lossless"}])
def test_any_lossy_request_for_mammography_is_refused_naming_the_rule(request_kwargs: dict) -> None:
    ds = real_mammogram()
    before, lossy_mark = ds.PixelData, ds.get("LossyImageCompression")
    with pytest.raises(medcodec.PolicyRefusedError,
                       match=r"'dx_image': compression refused by policy rule 'mammography-lossless-only': "
                             r"mammography \(Modality MG\) may only be compressed losslessly"):
        medcodec.compress(ds, request=CompressionRequest(source="dx_image", **request_kwargs))
    assert ds.PixelData == before and ds.get("LossyImageCompression") == lossy_mark


def test_mammography_sop_class_is_lossless_only_whatever_the_modality_says() -> None:
    ds = real_mammogram(modality="DX", sop_class=MAMMOGRAPHY_FOR_PRESENTATION)
    with pytest.raises(medcodec.PolicyRefusedError, match="rule 'mammography-sop-class-lossless-only'"):
        medcodec.compress(ds, profile="viewing")


def test_mammography_diagnostic_uses_jpeg2000_lossless_and_is_bit_exact() -> None:
    ds = real_mammogram()
    original = ds.pixel_array.copy()
    report = medcodec.compress(ds)
    assert (report.codec, report.rule) == ("jpeg2000_lossless", "mammography-jpeg2000")
    assert report.verified and not report.lossy and report.max_abs_error == 0
    assert (ds.pixel_array == original).all() and "LossyImageCompressionMethod" not in ds


def test_a_policy_file_cannot_switch_the_mammography_rule_off(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[profiles.viewing]\nmin_psnr = 20.0\n[[rules]]\nname = "all-lossy"\n'
                    'codecs = ["jpeg2000"]\nmatch = {}\n')
    use_policy(site)
    with pytest.raises(medcodec.PolicyRefusedError, match="rule 'mammography-lossless-only'"):
        medcodec.compress(real_mammogram(), profile="viewing")


def test_lossy_on_already_lossy_data_is_refused_unless_allowed() -> None:
    path = corpus("cornerstone3D/CTImage.dcm_JPEGProcess1TransferSyntax_1.2.840.10008.1.2.4.50.dcm")
    ds = pydicom.dcmread(path)
    assert ds.LossyImageCompression == "01"
    with pytest.raises(medcodec.PolicyRefusedError, match=r"rule 'no-lossy-on-lossy': .*already lossy"):
        medcodec.compress(ds, profile="viewing")
    report = medcodec.compress(ds, request=CompressionRequest(profile="viewing", allow_lossy_recompression=True))
    assert report.lossy and list(ds.LossyImageCompressionMethod)[-1] == medcodec.get_codec(report.codec).lossy_method
    # A lossless step on lossy data is fine, and keeps the lossy mark.
    ds = pydicom.dcmread(path)
    assert not medcodec.compress(ds).lossy and ds.LossyImageCompression == "01"


# --- profiles -----------------------------------------------------------------------------------------------


def test_ct_viewing_is_lossy_marked_and_meets_the_profile_thresholds() -> None:
    ds = real_ct()
    uid = ds.SOPInstanceUID
    viewing = load_policy().profiles["viewing"]
    report = medcodec.compress(ds, profile="viewing")
    assert report.lossy and report.verified and report.rule == "profile:viewing"
    assert report.psnr >= viewing.min_psnr and report.ssim >= viewing.min_ssim
    assert report.ratio > 5  # lossy earns its keep on CT
    assert ds.LossyImageCompression == "01"
    assert float(ds.LossyImageCompressionRatio) == pytest.approx(report.ratio, rel=1e-3)
    assert ds.LossyImageCompressionMethod == medcodec.get_codec(report.codec).lossy_method
    assert ds.SOPInstanceUID != uid == report.old_sop_instance_uid
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID == report.new_sop_instance_uid


def test_thumbnail_is_smaller_than_viewing_on_real_ct() -> None:
    viewing = medcodec.compress(real_ct(), profile="viewing")
    thumbnail = medcodec.compress(real_ct(), profile="thumbnail")
    assert thumbnail.ratio > viewing.ratio and thumbnail.psnr >= load_policy().profiles["thumbnail"].min_psnr


def test_profile_thresholds_reject_a_result_and_keep_the_original(tmp_path: Path) -> None:
    strict = tmp_path / "strict.toml"
    strict.write_text("[profiles.viewing]\nmin_ssim = 0.99999\n")
    use_policy(strict)
    ds = real_ct()
    before, uid = ds.PixelData, ds.SOPInstanceUID
    with pytest.raises(medcodec.VerificationError, match=r"SSIM 0\.\d+ is below the required 0\.99999"):
        medcodec.compress(ds, profile="viewing")
    assert ds.PixelData == before and ds.SOPInstanceUID == uid and "LossyImageCompression" not in ds


def test_diagnostic_is_lossless_for_every_corpus_modality() -> None:
    for relative in ("cornerstone3D/CTImage.dcm", "dcm4che/dcm4che-assembly/src/etc/testdata/dicom/MR01.dcm",
                     "highdicom/dx_image.dcm", "dcm4che/dcm4che-test-data/src/main/resources/NM-MONO2-16-13x-heart"):
        ds = pydicom.dcmread(corpus(relative))
        report = medcodec.compress(ds)
        assert medcodec.get_codec(report.codec).lossless and report.max_abs_error == 0, relative


def test_nuclear_medicine_prefers_jpeg_ls() -> None:
    ds = pydicom.dcmread(corpus("dcm4che/dcm4che-test-data/src/main/resources/NM-MONO2-16-13x-heart"))
    report = medcodec.compress(ds)
    assert (report.codec, report.rule) == ("jpeg_ls_lossless", "nuclear-medicine-jpeg-ls")


def test_unknown_profile_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(medcodec.PolicyRefusedError, match=r"unknown profile 'archival' \(known: diagnostic, "
                                                          r"thumbnail, viewing\)"):
        medcodec.compress(real_ct(), profile="archival")


# --- rules by AE, bits, photometric, body part --------------------------------------------------------------


def test_rules_match_calling_ae_bits_photometric_and_body_part(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text("""
[policy]
name = "site"
[[rules]]
name = "old-viewer"
match = { calling_ae = ["OLD_VIEWER"] }
codecs = ["rle_lossless"]
[[rules]]
name = "research-refused"
refuse = true
reason = "research AE gets no compressed copies"
match = { calling_ae = "RESEARCH" }
[[rules]]
name = "twelve-bit-mr-head"
match = { bits_stored = [12], photometric = ["monochrome2"], body_part = ["head"], modality = ["MR"] }
codecs = ["jpeg_ls_lossless"]
""")
    policy = use_policy(site)
    assert policy.sources[:2] == (str(site), "preset:default")
    ct = real_ct()
    assert medcodec.compress(ct, request=CompressionRequest(calling_ae="OLD_VIEWER")).codec == "rle_lossless"
    with pytest.raises(medcodec.PolicyRefusedError, match="rule 'research-refused': research AE gets no"):
        medcodec.compress(real_ct(), request=CompressionRequest(calling_ae="RESEARCH"))
    mr = pydicom.dcmread(corpus("dcm_qa_ts/In/4.dcm"))  # 12-bit Siemens MR
    mr.BodyPartExamined = "HEAD"
    assert medcodec.compress(mr).rule == "twelve-bit-mr-head"
    mr = pydicom.dcmread(corpus("dcm_qa_ts/In/4.dcm"))
    mr.BodyPartExamined = "KNEE"
    assert medcodec.compress(mr).rule == "profile:diagnostic"


def test_a_profile_in_a_policy_file_overrides_only_the_keys_it_names(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text("[profiles.viewing]\nmin_psnr = 50.0\n")
    policy = load_policy(site)
    default = load_policy()
    assert policy.profiles["viewing"].min_psnr == 50.0
    assert policy.profiles["viewing"].codecs == default.profiles["viewing"].codecs
    assert policy.profiles["viewing"].min_ssim == default.profiles["viewing"].min_ssim


def test_presets_load_and_lossless_archive_refuses_lossy() -> None:
    assert {"default", "lossless-archive", "teleradiology"} <= set(preset_names())
    use_policy("lossless-archive")
    with pytest.raises(medcodec.PolicyRefusedError, match="rule 'archive-lossless-only'"):
        medcodec.compress(real_ct(), profile="viewing")
    assert medcodec.compress(real_ct()).codec in ("jpeg_ls_lossless", "htj2k_lossless_rpcl")


@pytest.mark.parametrize(("text", "message"), [
    ("[policy\n", r"not valid TOML"),
    ("[profiles.viewing]\nmin_psnr = 'high'\n", r"profile 'viewing': min_psnr must be a number"),
    ("[[rules]]\nname = 'x'\nmatch = { colour = ['red'] }\nrefuse = true\n", r"rule 'x': unknown match keys \['colour'\]"),
    ("[[rules]]\nname = 'x'\nmatch = {}\n", r"rule 'x' does nothing"),
    ("[[rules]]\nname = 'x'\nmatch = { profile = ['archival'] }\nrefuse = true\n",
     r"rule 'x' matches unknown profile 'archival'"),
    ("[[rules]]\nname = 'mammography-lossless-only'\nrefuse = true\n", r"repeated: mammography-lossless-only"),
    ("[profiles.diagnostic]\nlossless = false\n", r"'diagnostic' profile must be lossless"),
    ("[polcy]\n", r"unknown top-level keys \['polcy'\]"),
])
def test_invalid_policy_files_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(PolicyError, match=rf"Policy '{bad}': .*{message}"):
        load_policy(bad)


def test_a_missing_policy_is_a_clear_error() -> None:
    with pytest.raises(PolicyError, match=r"Policy 'nosuch': no such file, and not a preset \(presets: default"):
        load_policy("nosuch")


# --- explain --------------------------------------------------------------------------------------------------


def test_explain_shows_every_rule_and_the_decision() -> None:
    result = explain(real_mammogram(), CompressionRequest(profile="viewing"))
    assert result["facts"]["modality"] == "MG"
    steps = {s["step"]: s for s in result["steps"]}
    assert steps["rule 'mammography-lossless-only'"]["outcome"].startswith("matches")
    assert steps["rule 'nuclear-medicine-jpeg-ls'"]["outcome"] == "no match"
    assert result["decision"] == {"outcome": "refused", "rule": "mammography-lossless-only",
                                  "reason": load_policy().rules[0].reason}
    chosen = explain(real_ct(), CompressionRequest(profile="viewing"))["decision"]
    assert chosen["outcome"] == "chosen" and chosen["verification"]["min_psnr"] == 45.0


def test_cli_policy_explain(tmp_path: Path) -> None:
    from medcodec.cli import cli

    mg = tmp_path / "mg.dcm"
    real_mammogram().save_as(mg)
    runner = CliRunner()
    done = runner.invoke(cli, ["policy", "explain", str(mg), "--profile", "viewing", "--json"])
    assert done.exit_code == 0, done.output
    [entry] = json.loads(done.stdout)
    assert entry["decision"]["rule"] == "mammography-lossless-only"
    text = runner.invoke(cli, ["policy", "explain", str(mg)])
    assert "=> jpeg2000_lossless (rule 'mammography-jpeg2000'" in text.stdout
    assert "rule 'mammography-lossless-only': matches: lossless only (modality MG in [MG])" in text.stdout
    shown = json.loads(runner.invoke(cli, ["policy", "show", "--policy", "teleradiology"]).stdout)
    assert shown["rules"][0]["name"] == "teleradiology-old-viewer-jpeg2000-only"
    bad = runner.invoke(cli, ["policy", "explain", str(mg), "--policy", str(tmp_path / "none.toml")])
    assert bad.exit_code != 0 and "none.toml': file not found" in bad.output


def test_a_plugin_policy_decides_before_the_builtin_and_explain_says_so() -> None:
    from medcodec import _plugins
    from medcodec.registry import CodecChoice
    from medcodec.testing import isolated_registry

    class SitePolicy:
        @medcodec.hookimpl
        def medcodec_select_codec(self, ds: pydicom.Dataset, request: CompressionRequest) -> CodecChoice | None:
            if ds.get("Modality") == "CT" and request.profile == "diagnostic":
                return CodecChoice("rle_lossless", {}, "site-ct-rle", "site rule")
            return None

    with isolated_registry():
        _plugins.register_plugin(SitePolicy(), "site-policy")
        assert medcodec.compress(real_ct()).rule == "site-ct-rle"
        result = explain(real_ct(), CompressionRequest())
        assert result["decision"]["rule"] != "site-ct-rle"  # what the built-in policy alone would do
        assert "site-ct-rle" in result["plugin_decision"] and "decided before the built-in" in result["note"]
        # A plugin returning None leaves the decision, and the mammography rule, to the built-in policy.
        with pytest.raises(medcodec.PolicyRefusedError, match="mammography-lossless-only"):
            medcodec.compress(real_mammogram(), profile="viewing")
