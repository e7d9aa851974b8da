"""A private Orthanc on the loopback interface, for the integration tests and the load benchmark.

Orthanc 1.10 has no bind-address option: both of its listeners bind 0.0.0.0. :class:`LocalOrthanc` therefore
compiles (once, with ``gcc``) a tiny ``LD_PRELOAD`` library that rewrites every ``bind()`` to the wildcard
address into a bind to the loopback address, writes a configuration of its own (``RemoteAccessAllowed: false``,
no plugins, so never the GDCM plugin), starts ``Orthanc`` as a child process on free ports, waits for REST
``/system`` and a DICOM port, and stops it by its PID. Nothing here touches a process it did not start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from medcodec.errors import MedcodecError

#: The LD_PRELOAD shim: bind() of 0.0.0.0 becomes 127.0.0.1 and bind() of :: becomes ::1.
BIND_SHIM_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static bind_fn real_bind = 0;
    if (!real_bind) real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in v4;
        memcpy(&v4, addr, sizeof v4);
        if (v4.sin_addr.s_addr == htonl(INADDR_ANY)) {
            v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&v4, sizeof v4);
        }
    } else if (addr && addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 v6;
        memcpy(&v6, addr, sizeof v6);
        if (memcmp(&v6.sin6_addr, &in6addr_any, sizeof v6.sin6_addr) == 0) {
            v6.sin6_addr = in6addr_loopback;
            return real_bind(fd, (const struct sockaddr *)&v6, sizeof v6);
        }
    }
    return real_bind(fd, addr, len);
}
"""

ORTHANC_BINARY = "Orthanc"


def orthanc_binary() -> str | None:
    """Path of Debian's ``Orthanc`` executable, or None when it is not installed."""
    return shutil.which(ORTHANC_BINARY) or (
        "/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").is_file() else None
    )


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_bind_shim(directory: Path) -> Path:
    """Compile the bind shim into ``directory`` (reused if already built); needs ``gcc``."""
    directory.mkdir(parents=True, exist_ok=True)
    library = directory / "loopback_bind.so"
    if library.is_file():
        return library
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise MedcodecError("Building the loopback bind shim for Orthanc needs gcc; install it with "
                            "'apt-get install gcc'.")
    source = directory / "loopback_bind.c"
    source.write_text(BIND_SHIM_SOURCE)
    tmp = directory / f".loopback_bind.{os.getpid()}.so"
    result = subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(tmp), str(source), "-ldl"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MedcodecError(f"Compiling the loopback bind shim failed: {result.stderr.strip()}")
    tmp.replace(library)
    return library


@dataclass
class LocalOrthanc:
    """One Orthanc child process with its own configuration and storage under ``workdir``.

    :param workdir: a fresh folder (configuration, database, log).
    :param aet: Orthanc's AE title.
    :param config: extra configuration keys (override the defaults, e.g. ``AcceptedTransferSyntaxes``).
    :param modalities: ``{name: (aet, port)}`` peers on 127.0.0.1 that Orthanc may connect back to.
    """

    workdir: Path
    aet: str = "ORTHANC"
    config: Mapping[str, Any] = field(default_factory=dict)
    modalities: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    http_port: int = 0
    dicom_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "orthanc.log"

    def configuration(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "Name": f"medcodec-{self.aet.lower()}",
            "StorageDirectory": str(self.workdir / "storage"),
            "IndexDirectory": str(self.workdir / "storage"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "HttpServerEnabled": True,
            "DicomServerEnabled": True,
            "Plugins": [],  # never the GDCM plugin (it crashes Orthanc 1.10 on JPEG-LS)
            "BuiltinDecoderTranscoderOrder": "Before",
            "StorageCompression": False,
            "OverwriteInstances": True,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowEcho": True,
            "DicomModalities": {name: [aet, "127.0.0.1", port] for name, (aet, port) in self.modalities.items()},
            "HttpThreadsCount": 8,
            "DicomThreadsCount": 8,
            "ConcurrentJobs": 1,
            "LimitFindResults": 0,
            "LimitFindInstances": 0,
            "StableAge": 1,
            "SaveJobs": False,
            "HttpTimeout": 60,
        }
        config.update(self.config)
        return config

    def start(self, shim: Path, timeout: float = 30.0) -> LocalOrthanc:
        """Start Orthanc on free ports (unless set) and return once REST and DICOM both answer."""
        binary = orthanc_binary()
        if binary is None:
            raise MedcodecError("Orthanc is not installed; install it with 'apt-get install orthanc'.")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.http_port = self.http_port or free_port()
        self.dicom_port = self.dicom_port or free_port()
        config_path = self.workdir / "orthanc.json"
        config_path.write_text(json.dumps(self.configuration(), indent=2))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LD_PRELOAD": str(shim), "HOME": str(self.workdir)}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([binary, "--verbose", str(config_path)], stdout=log,
                                        stderr=subprocess.STDOUT, env=env, cwd=self.workdir,
                                        start_new_session=True)
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise MedcodecError(f"Orthanc exited with code {self.process.returncode} while starting; "
                                    f"see {self.log_path}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/system", timeout=1).ok:
                    with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
                        return
            except (OSError, requests.RequestException) as exc:
                last = exc
            time.sleep(0.05)
        self.stop()
        raise MedcodecError(f"Orthanc did not answer on {self.url} within {timeout:g} s ({last}); "
                            f"see {self.log_path}:\n{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM by PID, then SIGKILL if it has not exited within ``timeout`` seconds."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
