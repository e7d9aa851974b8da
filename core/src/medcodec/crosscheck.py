"""Cross-check a written file with an independent decoder (GDCM's ``gdcmconv --raw``, DCMTK's ``dcmdj*``).

pydicom decodes through the same libraries medcodec encodes with; a second, unrelated implementation catches a
bitstream that only our own stack can read. The tool writes a native copy, pydicom reads its plain pixels, and
they are compared with what medcodec's verification decoded. A syntax no installed tool supports (the private
ones, Deflated Image Frame) is reported as ``unsupported``, never as passed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Transfer syntax -> independent decoders to try, in order: (executable, arguments before IN OUT).
TOOLS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "1.2.840.10008.1.2.4.80": (("dcmdjpls", ()), ("gdcmconv", ("--raw",))),
    "1.2.840.10008.1.2.4.81": (("dcmdjpls", ()), ("gdcmconv", ("--raw",))),
    "1.2.840.10008.1.2.4.90": (("gdcmconv", ("--raw",)),),
    "1.2.840.10008.1.2.4.91": (("gdcmconv", ("--raw",)),),
    "1.2.840.10008.1.2.5": (("dcmdrle", ()), ("gdcmconv", ("--raw",))),
    "1.2.840.10008.1.2.4.50": (("dcmdjpeg", ()), ("gdcmconv", ("--raw",))),
    "1.2.840.10008.1.2.4.51": (("dcmdjpeg", ()), ("gdcmconv", ("--raw",))),
    "1.2.840.10008.1.2.4.57": (("dcmdjpeg", ()), ("gdcmconv", ("--raw",))),
    "1.2.840.10008.1.2.4.70": (("dcmdjpeg", ()), ("gdcmconv", ("--raw",))),
}
#: Two irreversible wavelet decoders may round differently; a lossy stream may differ by this much.
LOSSY_TOLERANCE = 1


@dataclass(frozen=True)
class CrossCheck:
    status: str  # "passed", "failed" or "unsupported"
    tool: str | None
    detail: str

    def as_record(self) -> str:
        return self.status if self.tool is None else f"{self.status}:{self.tool}"


def available_tool(transfer_syntax: str) -> tuple[str, tuple[str, ...]] | None:
    for exe, args in TOOLS.get(str(transfer_syntax), ()):
        if shutil.which(exe):
            return exe, args
    return None


def cross_check(path: str | Path, expected: np.ndarray, transfer_syntax: str, *, lossless: bool,
                timeout: float = 120.0) -> CrossCheck:
    """Decode ``path`` with an independent tool and compare with ``expected`` (medcodec's decode, stored values)."""
    from pydicom import dcmread

    from medcodec.pipeline import stored_pixels

    tool = available_tool(transfer_syntax)
    if tool is None:
        return CrossCheck("unsupported", None, f"no independent decoder installed for {transfer_syntax}")
    exe, args = tool
    with tempfile.TemporaryDirectory(prefix="medcodec-xcheck-") as tmp:
        out = Path(tmp) / "native.dcm"
        proc = subprocess.run([exe, *args, str(path), str(out)], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if proc.returncode != 0 or not out.exists():
            message = (proc.stderr or proc.stdout).strip().splitlines()
            return CrossCheck("failed", exe, f"{exe} exit {proc.returncode}: {message[-1] if message else ''}")
        try:
            theirs = stored_pixels(dcmread(out))
        except Exception as exc:  # noqa: BLE001 - whatever the tool wrote, it did not decode
            return CrossCheck("failed", exe, f"{exe} wrote pixels pydicom cannot read: {exc}")
    if theirs.shape != expected.shape:
        return CrossCheck("failed", exe, f"{exe} decoded shape {theirs.shape}, medcodec {expected.shape}")
    diff = int(np.max(np.abs(theirs.astype(np.int64) - expected.astype(np.int64)))) if expected.size else 0
    allowed = 0 if lossless else LOSSY_TOLERANCE
    if diff > allowed:
        return CrossCheck("failed", exe, f"{exe} differs from medcodec's decode by up to {diff} (allowed {allowed})")
    return CrossCheck("passed", exe, f"{exe} agrees (max difference {diff})")
