"""Integration-test fixtures: wheels of the workspace built once per session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (scripts/install.sh installs it)")
    return found


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of the core, the pure-Python first-party plugin and the out-of-tree example plugin."""
    out = tmp_path_factory.mktemp("wheels")
    for project in ("core", "plugins/dct_teaching", "docs/examples/acme-dicom-codec"):
        done = subprocess.run([uv(), "build", "--wheel", "--out-dir", str(out), str(ROOT / project)],
                              check=False, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"building {project} failed:\n{done.stderr[-3000:]}"
    return out


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A new virtual environment with only the wheels (and their PyPI dependencies) installed."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([uv(), "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True,
                   timeout=300)
    wheels = sorted(str(p) for p in wheelhouse.glob("*.whl"))
    core = next(w for w in wheels if Path(w).name.startswith("medcodec-"))
    done = subprocess.run([uv(), "pip", "install", "--python", str(venv / "bin" / "python"),
                           f"{core}[testing]", *wheels], check=False, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv
