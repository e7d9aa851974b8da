"""Fixtures for the PACS integration tests: a real Orthanc on loopback, corpus images, DCMTK clients.

Every Orthanc is a child process of the test session, started with its own configuration and storage in a
temporary folder, on free ports, confined to 127.0.0.1 by an LD_PRELOAD bind shim compiled here with gcc, and
stopped by its PID. When a test fails, the logs of the Orthancs (and gateways) it used are attached to the report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # Sibling plugins are built concurrently and may be broken at times: they are disabled (and warned about
    # once, here) instead of failing every PACS test at its first ``import pydicom``.
    warnings.simplefilter("ignore")
    import pydicom.pixels  # noqa: F401 - triggers medcodec's start-up hook (install) now

from medcodec.pacs.sandbox import LocalOrthanc, build_bind_shim, free_port, orthanc_binary

LOGS = pytest.StashKey[list[tuple[str, Path]]]()

#: Small real images from /work/shared/corpus (see INVENTORY.tsv), one per modality class.
CORPUS_FILES = {
    "CT": "highdicom/ct_image.dcm",                                                 # 128x128 int16, EVRLE
    "CT-J2K": "cornerstone3D/CTImage.dcm_JPEG2000LosslessOnlyTransferSyntax_1.2.840.10008.1.2.4.90.dcm",
    "MR": "dcm4che/dcm4che-assembly/src/etc/testdata/dicom/MR01.dcm",               # 256x256 uint16, IVRLE
    "MR-RLE": "dcm_qa_ts/In/4.dcm",                                                 # 384x384 12-bit, RLE
    "US": "dcm4che/dcm4che-test-data/src/main/resources/YBR_FULL-RLE.dcm",         # 480x640 YBR_FULL, RLE
    "DX": "highdicom/dx_image.dcm",                     # relabelled as MG below: the corpus has no MG image
}
MG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.1.2"  # Digital Mammography X-Ray Image Storage - For Presentation


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for title, path in item.stash.get(LOGS, []):
            if path.is_file():
                text = "\n".join(path.read_text(errors="replace").splitlines()[-80:])
                report.sections.append((f"{title} ({path})", text))


def attach_log(request: pytest.FixtureRequest, title: str, path: Path) -> None:
    request.node.stash.setdefault(LOGS, []).append((title, path))


@pytest.fixture(scope="session", autouse=True)
def _medcodec_installed() -> None:
    """Install codecs once; a sibling plugin that is broken right now must not fail the PACS tests."""
    import medcodec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        medcodec.install()


@pytest.fixture(scope="session")
def corpus() -> Path:
    from medcodec.testing import shared_dir

    shared = shared_dir()
    if shared is None or not (shared / "corpus" / "INVENTORY.tsv").is_file():
        pytest.skip("the shared corpus (/work/shared/corpus) is not available")
    return shared / "corpus"


@pytest.fixture(scope="session")
def images(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{label: path} of the test images; 'MG' is the DX image relabelled as a mammogram."""
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    paths = {label: corpus / rel for label, rel in CORPUS_FILES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        pytest.skip(f"corpus files missing: {', '.join(missing)}")
    folder = tmp_path_factory.mktemp("mg")
    ds = dcmread(paths.pop("DX"))
    ds.Modality = "MG"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = MG_SOP_CLASS
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(prefix=None, entropy_srcs=["mg"])
    paths["MG"] = folder / "mg.dcm"
    ds.save_as(paths["MG"], enforce_file_format=True)
    return paths


@pytest.fixture(scope="session")
def bind_shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if orthanc_binary() is None:
        pytest.skip("Orthanc is not installed (apt-get install orthanc); CI installs it via scripts/install.sh")
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("gcc is needed to build the loopback bind shim for Orthanc")
    return build_bind_shim(tmp_path_factory.mktemp("shim"))


OrthancFactory = Callable[..., LocalOrthanc]


@pytest.fixture
def orthanc_factory(bind_shim: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[OrthancFactory]:
    """``orthanc_factory(config={...}, dicom_port=..., start=True)`` -> a running LocalOrthanc (stopped after)."""
    started: list[LocalOrthanc] = []

    def make(name: str = "orthanc", *, start: bool = True, dicom_port: int = 0,
             **kwargs: Any) -> LocalOrthanc:
        server = LocalOrthanc(tmp_path / name, dicom_port=dicom_port, **kwargs)
        attach_log(request, f"Orthanc '{name}' log", server.log_path)
        started.append(server)
        return server.start(bind_shim) if start else server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def shared_orthanc(bind_shim: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOrthanc]:
    server = LocalOrthanc(tmp_path_factory.mktemp("orthanc-shared"), aet="ORTHANC")
    server.start(bind_shim)
    yield server
    server.stop()


@pytest.fixture
def orthanc(shared_orthanc: LocalOrthanc, request: pytest.FixtureRequest) -> LocalOrthanc:
    """The session's default Orthanc (accepts its 42 built-in syntaxes), emptied for each test."""
    from medcodec.pacs.orthanc import OrthancClient

    if shared_orthanc.process is None or shared_orthanc.process.poll() is not None:
        pytest.fail(f"the shared Orthanc died:\n{shared_orthanc.log_tail()}")
    OrthancClient(shared_orthanc.url).delete_all()
    attach_log(request, "shared Orthanc log", shared_orthanc.log_path)
    return shared_orthanc


@pytest.fixture
def dcmtk() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a DCMTK tool (skips when DCMTK is absent).

    pynetdicom installs console scripts named ``storescu``, ``findscu`` and ``echoscu`` into the virtualenv,
    which shadow DCMTK's on ``PATH``; the tools are therefore looked up outside the virtualenv.
    """
    venv_bin = str(Path(sys.executable).parent)
    search = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)

    def run(tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        binary = shutil.which(tool, path=search + os.pathsep + "/usr/bin")
        if binary is None:
            pytest.skip(f"DCMTK's {tool} is not installed (apt-get install dcmtk)")
        return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout, check=False)
    return run


def medcodec_env(**extra: str) -> dict[str, str]:
    """Environment for a medcodec subprocess that must not depend on sibling plugins."""
    env = dict(os.environ)
    env.update(MEDCODEC_LOAD_PLUGINS="standard", PYTHONWARNINGS="ignore", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def medcodec_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "medcodec.cli", *args]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


#: DCMTK storescu proposes uncompressed syntaxes only, unless told one (and only one) compressed syntax.
STORESCU_PROPOSE = {"1.2.840.10008.1.2.4.90": "-xv", "1.2.840.10008.1.2.5": "-xr", "1.2.840.10008.1.2.4.80": "-xt",
                    "1.2.840.10008.1.2.4.70": "-xs", "1.2.840.10008.1.2.4.57": "-xs"}


class Helpers:
    """Shared helpers, handed to tests as the ``helpers`` fixture (importlib mode cannot import conftest)."""

    env = staticmethod(medcodec_env)
    command = staticmethod(medcodec_command)
    wait_for = staticmethod(wait_for)
    free_port = staticmethod(free_port)

    @staticmethod
    def pixels(data: bytes | Path) -> Any:
        from io import BytesIO

        from pydicom import dcmread

        return dcmread(BytesIO(data) if isinstance(data, bytes) else data).pixel_array

    @staticmethod
    def start_gateway(request: pytest.FixtureRequest, tmp_path: Path, *args: str,
                      name: str = "gateway") -> tuple[subprocess.Popen[bytes], int]:
        """Run ``medcodec gateway`` as a subprocess; returns (process, port) once it answers C-ECHO."""
        import socket

        port = free_port()
        log_path = tmp_path / f"{name}.log"
        attach_log(request, f"medcodec {name} log", log_path)
        with log_path.open("ab") as log:
            proc = subprocess.Popen(medcodec_command("gateway", "--listen", f"127.0.0.1:{port}", "-v", *args),
                                    stdout=log, stderr=subprocess.STDOUT, env=medcodec_env())
        request.addfinalizer(lambda: Helpers.stop(proc))

        def answering() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the gateway exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_for(answering, 60, "the gateway to listen")
        return proc, port

    @staticmethod
    def stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def storescu_batches(files: list[Path]) -> list[tuple[list[str], list[Path]]]:
    """Group files into storescu runs: (extra options, files) per compressed syntax, native files together."""
    from pydicom import dcmread

    groups: dict[str, list[Path]] = {}
    for path in files:
        ts = str(dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        groups.setdefault(STORESCU_PROPOSE.get(ts, ""), []).append(path)
    return [([option] if option else [], paths) for option, paths in groups.items()]


@pytest.fixture
def storescu(dcmtk: Any) -> Callable[..., None]:
    """``storescu(port, files, called="MEDCODEC")``: send with DCMTK storescu, asserting success."""
    def send(port: int, files: list[Path], called: str = "MEDCODEC") -> None:
        for options, paths in storescu_batches(files):
            result = dcmtk("storescu", "-aet", "STORESCU", "-aec", called, *options, "127.0.0.1", str(port),
                           *map(str, paths), timeout=120)
            assert result.returncode == 0 and "Store Failed" not in result.stderr, result.stdout + result.stderr
    return send


@pytest.fixture
def helpers() -> type[Helpers]:
    return Helpers
