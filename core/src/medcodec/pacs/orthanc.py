"""A small Orthanc REST client: just what the archive recompression, the tests and the benchmark need.

Every call raises :class:`OrthancError` with the method, the path and Orthanc's answer; nothing is retried
silently. Instance bytes go through ``/instances`` (upload) and ``/instances/{id}/file`` (download); REST uploads
are stored byte-identically by Orthanc.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from medcodec.errors import MedcodecError


class OrthancError(MedcodecError):
    """An Orthanc REST call failed (connection refused, HTTP error, or an unexpected answer)."""

    def __init__(self, method: str, url: str, problem: str) -> None:
        self.method, self.url, self.problem = method, url, problem
        super().__init__(f"Orthanc REST call {method} {url} failed: {problem}")


class OrthancClient:
    """``OrthancClient("http://127.0.0.1:8042")``; ``auth`` is an optional (user, password) pair."""

    def __init__(self, url: str, *, auth: tuple[str, str] | None = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = auth
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.url}{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise OrthancError(method, url, str(exc)) from exc
        if not response.ok:
            raise OrthancError(method, url, f"HTTP {response.status_code}: {response.text[:300]}")
        return response

    def get_json(self, path: str) -> Any:
        return self._call("GET", path).json()

    def post_json(self, path: str, body: Any) -> Any:
        return self._call("POST", path, json=body).json()

    # --- server ---------------------------------------------------------------------------------------
    def system(self) -> dict[str, Any]:
        return dict(self.get_json("/system"))

    def statistics(self) -> dict[str, Any]:
        return dict(self.get_json("/statistics"))

    def accepted_transfer_syntaxes(self) -> list[str]:
        return list(self.get_json("/tools/accepted-transfer-syntaxes"))

    # --- instances ------------------------------------------------------------------------------------
    def instances(self) -> list[str]:
        return list(self.get_json("/instances"))

    def find_instances(self, query: Mapping[str, str] | None = None) -> list[str]:
        """Orthanc IDs of the instances matching a DICOM query (``{"Modality": "CT"}``), sorted."""
        body = {"Level": "Instance", "Query": dict(query or {}), "Expand": False}
        return sorted(self.post_json("/tools/find", body))

    def iter_instances(self, query: Mapping[str, str] | None = None) -> Iterator[str]:
        yield from (self.find_instances(query) if query else sorted(self.instances()))

    def instance_file(self, instance_id: str) -> bytes:
        return self._call("GET", f"/instances/{instance_id}/file").content

    def instance_tags(self, instance_id: str) -> dict[str, Any]:
        return dict(self.get_json(f"/instances/{instance_id}/simplified-tags"))

    def transfer_syntax(self, instance_id: str) -> str:
        """The stored transfer syntax (Orthanc's metadata; read from the file's meta header if absent)."""
        try:
            value = self._call("GET", f"/instances/{instance_id}/metadata/TransferSyntax").text.strip()
        except OrthancError:
            value = ""
        if value:
            return value
        from io import BytesIO

        from pydicom import dcmread

        meta = dcmread(BytesIO(self.instance_file(instance_id)), stop_before_pixels=True).file_meta
        return str(meta.TransferSyntaxUID)

    def upload(self, data: bytes) -> dict[str, Any]:
        """POST one Part 10 file; returns Orthanc's answer (``ID``, ``Status``: Success/AlreadyStored)."""
        answer = self._call("POST", "/instances", data=data,
                            headers={"Content-Type": "application/dicom", "Expect": ""}).json()
        if not isinstance(answer, dict) or "ID" not in answer:
            raise OrthancError("POST", f"{self.url}/instances", f"unexpected answer {answer!r}")
        return answer

    def delete_instance(self, instance_id: str) -> None:
        self._call("DELETE", f"/instances/{instance_id}")

    def delete_all(self) -> None:
        for patient in self.get_json("/patients"):
            self._call("DELETE", f"/patients/{patient}")

    def sha256(self, instance_id: str) -> str:
        return hashlib.sha256(self.instance_file(instance_id)).hexdigest()

    def sop_instance_uids(self) -> dict[str, str]:
        """{SOPInstanceUID: Orthanc ID} for every instance (one expanded query)."""
        answer = self.post_json("/tools/find", {"Level": "Instance", "Query": {}, "Expand": True})
        return {item["MainDicomTags"]["SOPInstanceUID"]: item["ID"] for item in answer}
