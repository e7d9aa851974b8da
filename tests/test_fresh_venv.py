"""Unmodified scripts gain codecs: wheels installed into a fresh virtual environment, no `import medcodec`.

This is what a user does: `pip install medcodec medcodec-plugin-X`, then runs a script that only uses pydicom.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, uv

pytestmark = pytest.mark.slow

ACME = "2.25.115535263230877156563798271696638850145.1"
DCT = "2.25.68667338034845433904652776429924625335.1.3"
MIC = "2.25.68667338034845433904652776429924625335.1.1"

#: Never imports medcodec. Compresses a multi-frame dataset with a str UID and reads it back every way.
UNMODIFIED_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import pydicom
    from pydicom.pixels import iter_pixels, pixel_array

    uid, out, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm"))
    frames = np.stack([ds.pixel_array, ds.pixel_array[::-1], ds.pixel_array[:, ::-1]])
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    ds.compress(uid, **options)
    ds.save_as(out, enforce_file_format=True)
    back = pydicom.dcmread(out)
    results = {
        "transfer_syntax": str(back.file_meta.TransferSyntaxUID),
        "pixel_array": float(np.abs(back.pixel_array.astype(int) - frames).max()),
        "pixel_array_path": float(np.abs(pixel_array(out).astype(int) - frames).max()),
        "iter_pixels_path": float(np.abs(np.stack(list(iter_pixels(out))).astype(int) - frames).max()),
    }
    back.decompress()
    results["decompress"] = float(np.abs(back.pixel_array.astype(int) - frames).max())
    results["after_decompress"] = str(back.file_meta.TransferSyntaxUID)
    print(json.dumps(results))
""")


def _python(venv: Path) -> str:
    return str(venv / "bin" / "python")


def _run(venv: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MEDCODEC_", "VIRTUAL_ENV"))}
    return subprocess.run([_python(venv), *args], check=False, capture_output=True, text=True, timeout=300,
                          env={**environment, **env}, cwd=venv.parent)


def _script(venv: Path) -> Path:
    path = venv.parent / "unmodified.py"
    path.write_text(UNMODIFIED_SCRIPT)
    return path


@pytest.mark.parametrize(("uid", "options", "tolerance"), [(ACME, {}, 0), (DCT, {"quality": 90}, 200)],
                         ids=["third-party-lossless", "first-party-lossy"])
def test_unmodified_script_round_trips_a_private_codec(fresh_venv: Path, tmp_path: Path, uid: str,
                                                       options: dict, tolerance: float) -> None:
    out = tmp_path / "out.dcm"
    done = _run(fresh_venv, str(_script(fresh_venv)), uid, str(out), json.dumps(options))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["transfer_syntax"] == uid
    assert results["after_decompress"] == "1.2.840.10008.1.2.1"
    for key in ("pixel_array", "pixel_array_path", "iter_pixels_path", "decompress"):
        assert results[key] <= tolerance, (key, results)


def test_cli_in_the_fresh_venv_lists_the_installed_plugins(fresh_venv: Path) -> None:
    done = subprocess.run([str(fresh_venv / "bin" / "medcodec"), "plugins", "--json"], check=False, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    names = {p["name"]: p for p in json.loads(done.stdout)}
    assert {"standard", "acme", "dct_teaching"} <= set(names)
    assert names["acme"]["distribution"] == "acme-dicom-codec" and names["acme"]["version"] == "1.0.0"
    assert names["acme"]["codecs"][0]["available"] is True


def test_vendor_runs_the_conformance_kit_from_the_installed_core(fresh_venv: Path, tmp_path: Path) -> None:
    tests = ROOT / "docs" / "examples" / "acme-dicom-codec" / "tests"
    done = _run(fresh_venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                str(tests))
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout


def test_startup_hook_is_in_the_wheel_and_imports_nothing(fresh_venv: Path) -> None:
    done = _run(fresh_venv, "-c", "import sys; print(sorted(m for m in sys.modules if m.startswith("
                "('pydicom', 'pluggy', 'medcodec', 'numpy'))), '_medcodec_hook' in sys.modules)")
    assert done.stdout.split() == ["[]", "True"], done.stderr


def test_missing_plugin_error_names_the_distribution(fresh_venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    """Uninstalling a first-party plugin leaves pydicom's clear 'requires medcodec-plugin-...' message."""
    out = tmp_path / "dct.dcm"
    assert _run(fresh_venv, str(_script(fresh_venv)), DCT, str(out), json.dumps({"quality": 50})).returncode == 0
    subprocess.run([uv(), "pip", "uninstall", "--python", _python(fresh_venv), "medcodec-plugin-dct-teaching"],
                   check=True, capture_output=True, timeout=120)
    try:
        done = _run(fresh_venv, "-c", f"import pydicom; pydicom.dcmread({str(out)!r}).pixel_array")
        assert done.returncode != 0
        assert "medcodec.dct_teaching - requires medcodec-plugin-dct-teaching" in done.stderr
        done = _run(fresh_venv, "-c", f"import pydicom; pydicom.examples.ct.compress({MIC!r})")
        assert "medcodec.mic - requires medcodec-plugin-mic" in done.stderr
    finally:  # the venv is shared by the session: put the plugin back
        wheel = next(wheelhouse.glob("medcodec_plugin_dct_teaching-*.whl"))
        subprocess.run([uv(), "pip", "install", "--python", _python(fresh_venv), str(wheel)],
                       check=True, capture_output=True, timeout=300)


def test_autoload_switch_in_the_fresh_venv(fresh_venv: Path) -> None:
    code = f"import pydicom; pydicom.examples.ct.compress({ACME!r}); print('ok')"
    assert _run(fresh_venv, "-c", code).stdout.strip() == "ok"
    disabled = _run(fresh_venv, "-c", code, MEDCODEC_DISABLE_PLUGIN_AUTOLOAD="1")
    assert "No pixel data encoders have been implemented" in disabled.stderr
    explicit = _run(fresh_venv, "-c", "import medcodec; medcodec.install(); " + code,
                    MEDCODEC_DISABLE_PLUGIN_AUTOLOAD="1")
    assert explicit.stdout.strip() == "ok", explicit.stderr
