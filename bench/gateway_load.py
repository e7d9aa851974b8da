"""Load benchmark: N instances over K concurrent associations -> ``medcodec gateway`` -> a private Orthanc.

    uv run --all-extras python bench/gateway_load.py --instances 500 --associations 8 [--json out.json]

Everything runs on 127.0.0.1: a private Orthanc (medcodec.pacs.sandbox: own config and storage in a temporary
folder, loopback-only bind shim, stopped by PID) and a ``medcodec gateway`` subprocess (standard codecs only,
diagnostic = lossless profile). K threads each open one association and send their share of the N instances;
each instance is a real corpus image (CT, MR, MG-relabelled DX) with a fresh SOP Instance UID.

Reported: instances/s accepted by the gateway (Success means compressed, verified and fsync'd to its queue),
C-STORE latency p50/p99/max as seen by the senders, the time until Orthanc holds everything, and the loss check:
Orthanc's instance count, every SOP Instance UID present, and each instance's decoded pixels hashed and compared
with the original's (lossless: they must be equal).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import Any

IMAGES = {
    "CT": "highdicom/ct_image.dcm",
    "MR": "dcm4che/dcm4che-assembly/src/etc/testdata/dicom/MR01.dcm",
    "MG": "highdicom/dx_image.dcm",  # relabelled as MG: the corpus has no mammogram
}
MG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.1.2"


def load_images(corpus: Path) -> list[Any]:
    from pydicom import dcmread

    out = []
    for label, rel in IMAGES.items():
        ds = dcmread(corpus / rel)
        if label == "MG":
            ds.Modality = "MG"
            ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = MG_SOP_CLASS
        out.append(ds)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def sender(index: int, count: int, port: int, images: list[Any], latencies: list[float], sent: list[str],
           errors: list[str], lock: threading.Lock) -> None:
    import copy

    from pydicom.uid import generate_uid
    from pynetdicom import AE, build_context

    ae = AE(ae_title=f"LOAD{index:02d}")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 120
    contexts = [build_context(ds.SOPClassUID, str(ds.file_meta.TransferSyntaxUID)) for ds in images]
    assoc = ae.associate("127.0.0.1", port, ae_title="MEDCODEC", contexts=contexts)
    if not assoc.is_established:
        with lock:
            errors.append(f"sender {index}: association refused")
        return
    try:
        for i in range(count):
            ds = copy.copy(images[(index + i) % len(images)])
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta = copy.copy(ds.file_meta)
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            start = time.perf_counter()
            status = assoc.send_c_store(ds)
            elapsed = time.perf_counter() - start
            code = int(status.Status) if status is not None and "Status" in status else None
            with lock:
                if code == 0:
                    latencies.append(elapsed)
                    sent.append(str(ds.SOPInstanceUID))
                else:
                    errors.append(f"sender {index}: {ds.SOPInstanceUID} status {code}")
            if not assoc.is_established:
                break
    finally:
        if assoc.is_established:
            assoc.release()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=500, help="instances per association")
    parser.add_argument("--associations", type=int, default=8, help="concurrent associations")
    parser.add_argument("--timeout", type=float, default=900, help="give up after this many seconds")
    parser.add_argument("--workers", type=int, default=2, help="gateway codec worker processes")
    parser.add_argument("--forward-associations", type=int, default=2, help="gateway -> Orthanc associations")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, Orthanc storage)")
    args = parser.parse_args()
    if args.instances * args.associations > 20000 or args.associations > 32:
        parser.error("bounded: at most 20000 instances and 32 associations")

    import numpy as np  # noqa: F401 - fail early if the environment is incomplete
    from medcodec.audit import pixel_digest
    from medcodec.pacs.orthanc import OrthancClient
    from medcodec.pacs.sandbox import LocalOrthanc, build_bind_shim, free_port
    from medcodec.testing import shared_dir

    def _terminate(signum: int, frame: Any) -> None:
        raise SystemExit(f"stopped by signal {signum}")  # runs the clean-up below (gateway, Orthanc)

    signal.signal(signal.SIGTERM, _terminate)
    shared = shared_dir()
    if shared is None:
        print("the shared corpus is not available", file=sys.stderr)
        return 2
    images = load_images(shared / "corpus")
    digests = {str(ds.SOPClassUID): pixel_digest(ds.pixel_array) for ds in images}

    work = Path(tempfile.mkdtemp(prefix="medcodec-gateway-load-"))
    orthanc = LocalOrthanc(work / "orthanc", config={"StorageCompression": False})
    gateway: subprocess.Popen[bytes] | None = None
    report: dict[str, Any] = {}
    try:
        orthanc.start(build_bind_shim(work / "shim"))
        port = free_port()
        env = {**os.environ, "MEDCODEC_LOAD_PLUGINS": "standard", "PYTHONWARNINGS": "ignore"}
        with (work / "gateway.log").open("wb") as log:
            gateway = subprocess.Popen([sys.executable, "-m", "medcodec.cli", "gateway", "--listen",
                                        f"127.0.0.1:{port}", "--forward", f"ORTHANC@127.0.0.1:{orthanc.dicom_port}",
                                        "--spool", str(work / "spool"), "--profile", "diagnostic",
                                        "--workers", str(args.workers),
                                        "--forward-associations", str(args.forward_associations)],
                                       stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or gateway.poll() is not None:
                    raise RuntimeError(f"the gateway did not start; see {work / 'gateway.log'}") from None
                time.sleep(0.1)

        latencies: list[float] = []
        sent: list[str] = []
        errors: list[str] = []
        lock = threading.Lock()
        threads = [threading.Thread(target=sender, args=(k, args.instances, port, images, latencies, sent, errors,
                                                         lock)) for k in range(args.associations)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.timeout)
        send_seconds = time.perf_counter() - started

        client = OrthancClient(orthanc.url, timeout=120)
        total = args.instances * args.associations
        deadline = time.monotonic() + args.timeout
        # /statistics lags behind in Orthanc 1.10 (its counters are flushed periodically): count /instances.
        while len(client.instances()) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.2)
        arrive_seconds = time.perf_counter() - started

        stored = client.post_json("/tools/find", {"Level": "Instance", "Query": {}, "Expand": True})
        by_uid = {item["MainDicomTags"]["SOPInstanceUID"]: item["ID"] for item in stored}
        missing = [uid for uid in sent if uid not in by_uid]
        from pydicom import dcmread

        mismatched, syntaxes = [], {}
        for uid in sent:
            if uid not in by_uid:
                continue
            ds = dcmread(BytesIO(client.instance_file(by_uid[uid])))
            ts = str(ds.file_meta.TransferSyntaxUID)
            syntaxes[ts] = syntaxes.get(ts, 0) + 1
            if pixel_digest(ds.pixel_array) != digests[str(ds.SOPClassUID)]:
                mismatched.append(uid)
        queue = {name: len(list((work / "spool" / "queue" / name).glob("*.dcm")))
                 for name in ("pending", "committing", "failed")}
        report = {
            "instances_requested": total,
            "associations": args.associations,
            "gateway_workers": args.workers,
            "forward_associations": args.forward_associations,
            "accepted_by_gateway": len(sent),
            "send_errors": errors[:20],
            "send_seconds": round(send_seconds, 2),
            "gateway_instances_per_second": round(len(sent) / send_seconds, 1) if send_seconds else None,
            "latency_ms": {"p50": round(percentile(latencies, 50) * 1000, 1),
                           "p99": round(percentile(latencies, 99) * 1000, 1),
                           "max": round(max(latencies) * 1000, 1)} if latencies else None,
            "all_in_orthanc_seconds": round(arrive_seconds, 2),
            "end_to_end_instances_per_second": round(len(sent) / arrive_seconds, 1) if arrive_seconds else None,
            "orthanc_instance_count": len(client.instances()),
            "lost": len(missing) + (total - len(sent)),
            "missing_in_orthanc": len(missing),
            "pixel_checksum_mismatches": len(mismatched),
            "stored_transfer_syntaxes": syntaxes,
            "gateway_queue_after": queue,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "processor": _cpu_model(), "python": platform.python_version()},
            "images": list(IMAGES),
        }
    finally:
        if gateway is not None and gateway.poll() is None:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(30)
            except subprocess.TimeoutExpired:
                gateway.kill()
        orthanc.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if report.get("lost") == 0 and report.get("pixel_checksum_mismatches") == 0 else 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
