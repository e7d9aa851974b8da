"""Plugin loading, the codec index, error messages, and the `medcodec plugins` / `doctor` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import fakes
import medcodec
import pytest
from click.testing import CliRunner
from medcodec import _plugins
from medcodec.cli import cli
from medcodec.testing import isolated_registry, make_dataset


def test_standard_codecs_are_registered_by_the_core_entry_point() -> None:
    names = {spec.name for spec in medcodec.list_codecs()}
    assert {"jpeg2000_lossless", "jpeg2000", "jpeg_ls_lossless", "jpeg_ls_near_lossless", "rle_lossless",
            "deflated_image_frame"} <= names
    assert _plugins.codec_index().owner("jpeg_ls_lossless") == "standard"


def test_codec_lookup_by_name_or_uid() -> None:
    assert medcodec.get_codec("1.2.840.10008.1.2.4.80").name == "jpeg_ls_lossless"


def test_unknown_codec_lists_the_registered_names() -> None:
    with pytest.raises(medcodec.UnknownCodecError, match=r"Unknown codec 'nope'\. Registered codecs: .*jpeg_ls"):
        medcodec.get_codec("nope")
    ds = make_dataset()
    with pytest.raises(medcodec.UnknownCodecError, match="Unknown codec 'nope'"):
        medcodec.compress(ds, "nope")


def test_duplicate_codec_name_is_a_conflict_naming_both_distributions(toy_codec: str) -> None:
    spec = medcodec.get_codec("toy_delta_zlib")
    with pytest.raises(medcodec.CodecConflictError,
                       match=r"Codec name 'toy_delta_zlib' is declared by both 'toy' and 'other'"):
        _plugins.codec_index().add(spec, "other")


def test_a_plugin_that_fails_to_register_is_disabled_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = fakes.plugin_module("broken_codec", fakes.TOY_UID, lossless=False)  # lossy without lossy_method
    monkeypatch.delenv("MEDCODEC_STRICT_PLUGINS", raising=False)
    with isolated_registry():
        with pytest.warns(medcodec.MedcodecPluginWarning, match='Error importing plugin "broken"'):
            _plugins.register_plugin(broken, "broken")
        record = next(r for r in _plugins.plugin_records() if r.name == "broken")
        assert "must declare lossy_method" in record.error


def test_strict_mode_turns_a_broken_plugin_into_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = fakes.plugin_module("broken_codec", fakes.TOY_UID, lossless=False)
    monkeypatch.setenv("MEDCODEC_STRICT_PLUGINS", "1")
    with isolated_registry(), pytest.raises(medcodec.PluginLoadError,
                                            match='Error importing plugin "broken": ValueError'):
        _plugins.register_plugin(broken, "broken")


def test_unsupported_bit_depth_is_a_clear_error(toy_codec: str) -> None:
    ds = make_dataset(8, 8, 1, 8, False, 3)
    with pytest.raises(medcodec.UnsupportedImageError,
                       match=r"codec 'toy_delta_zlib' .* cannot encode this image: SamplesPerPixel 3"):
        medcodec.compress(ds, "toy_delta_zlib")


def test_corrupted_private_frame_gives_a_decode_error_naming_the_codec(toy_codec: str) -> None:
    from pydicom.encaps import encapsulate

    ds = make_dataset()
    ds.compress(toy_codec)
    ds.PixelData = encapsulate([b"XXXX" + bytes(20)])
    with pytest.raises(RuntimeError, match=r"codec 'toy_delta_zlib' \(.*\.9\.1\) failed to decode: bad magic"):
        ds.pixel_array  # noqa: B018


def test_plugins_json_lists_plugins_hooks_and_codecs(toy_codec: str) -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    report = {entry["name"]: entry for entry in json.loads(result.output)}
    standard = report["standard"]
    assert standard["distribution"] == "medcodec" and standard["version"] == medcodec.__version__
    assert standard["hooks"] == ["medcodec_register_codecs"]
    codecs = {c["name"]: c for c in standard["codecs"]}
    assert codecs["jpeg_ls_lossless"] == {"name": "jpeg_ls_lossless", "transfer_syntax": "1.2.840.10008.1.2.4.80",
                                          "lossless": True, "available": True, "missing": []}
    toy = report["toy"]["codecs"][0]
    assert toy["transfer_syntax"] == toy_codec and toy["available"] is True


def test_version_and_doctor() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).output.strip() == f"medcodec, version {medcodec.__version__}"
    result = runner.invoke(cli, ["doctor"])
    line = result.output.splitlines()[0]
    assert line.startswith(f"medcodec {medcodec.__version__}, pydicom 3.")
    assert "standard-" + medcodec.__version__ in line


def test_load_plugins_switch_limits_entry_points() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "medcodec.cli", "plugins"], check=False, capture_output=True, text=True, timeout=120,
        env={**os.environ, "MEDCODEC_LOAD_PLUGINS": "standard"})
    assert done.returncode == 0, done.stderr
    assert [p["name"] for p in json.loads(done.stdout)] == ["standard"]


def test_trace_hooks_prints_hook_calls() -> None:
    code = ("import medcodec\n"
            "from medcodec.testing import make_dataset\n"
            "medcodec.compress(make_dataset(), 'rle_lossless')\n")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MEDCODEC_LOAD_PLUGINS": "standard", "MEDCODEC_TRACE_HOOKS": "1"})
    assert done.returncode == 0, done.stderr
    assert "medcodec: call medcodec_select_codec(ds, request)" in done.stderr
    assert "medcodec: medcodec_update_metadata returned" in done.stderr
