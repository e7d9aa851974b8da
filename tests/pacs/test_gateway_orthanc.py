"""DCMTK storescu -> ``medcodec gateway`` (subprocess) -> a real Orthanc: lossless, bit-exact, never refused."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from medcodec.pacs.orthanc import OrthancClient
from pydicom import dcmread

pytestmark = pytest.mark.orthanc

NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}


def test_storescu_gateway_orthanc_lossless_bit_exact(orthanc: Any, images: dict[str, Path], tmp_path: Path,
                                                      request: pytest.FixtureRequest, helpers: Any,
                                                      dcmtk: Any, storescu: Any) -> None:
    client = OrthancClient(orthanc.url)
    _proc, port = helpers.start_gateway(
        request, tmp_path, "--forward", f"ORTHANC@127.0.0.1:{orthanc.dicom_port}",
        "--spool", str(tmp_path / "spool"), "--store", str(tmp_path / "store"), "--profile", "diagnostic",
        "--policy", "lossless-archive")  # a policy preset preferring JPEG-LS: it must reach the codec workers
    echo = dcmtk("echoscu", "-aec", "MEDCODEC", "127.0.0.1", str(port))
    assert echo.returncode == 0, echo.stderr

    files = [images[k] for k in ("CT", "CT-J2K", "MR", "MR-RLE", "US", "MG")]
    storescu(port, files)

    originals = {str(dcmread(f, stop_before_pixels=True).SOPInstanceUID): f for f in files}
    def all_stored() -> dict[str, str] | None:
        found = client.sop_instance_uids()
        return found if set(originals) <= set(found) else None

    stored = helpers.wait_for(all_stored, 90, "all instances in Orthanc")
    accepted_by_orthanc = set(client.accepted_transfer_syntaxes())
    for uid, path in originals.items():
        data = client.instance_file(stored[uid])
        ds = dcmread(BytesIO(data))
        ts = str(ds.file_meta.TransferSyntaxUID)
        assert ts in accepted_by_orthanc, f"{path.name}: Orthanc holds {ts}, which it does not accept"
        assert ts not in NATIVE, f"{path.name} was not compressed by the gateway (stored as {ts})"
        assert ds.get("LossyImageCompression", "00") != "01", f"{path.name} is marked lossy"
        assert np.array_equal(ds.pixel_array, helpers.pixels(path)), f"{path.name}: pixels differ"
        # MG has its own rule (JPEG 2000 first); YBR colour goes to the next codec that takes it.
        expected = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80"} if path in (images["MG"], images["US"]) \
            else {"1.2.840.10008.1.2.4.80"}
        assert ts in expected, f"{path.name}: stored as {ts}, the policy asked for {expected}"

    # DCMTK findscu, an independent client, finds every instance in Orthanc.
    for uid, path in originals.items():
        meta = dcmread(path, stop_before_pixels=True)
        found = dcmtk("findscu", "-aec", "ORTHANC", "-S", "-k", "QueryRetrieveLevel=IMAGE",
                      "-k", f"StudyInstanceUID={meta.StudyInstanceUID}",
                      "-k", f"SeriesInstanceUID={meta.SeriesInstanceUID}", "-k", f"SOPInstanceUID={uid}",
                      "127.0.0.1", str(orthanc.dicom_port))
        assert found.returncode == 0 and uid in found.stdout + found.stderr, found.stderr

    # The local store holds the same instances; the queue is empty; the peer's capabilities were learned.
    assert len(list((tmp_path / "store").rglob("*.dcm"))) == len(originals)
    helpers.wait_for(lambda: not list((tmp_path / "spool" / "queue" / "pending").glob("*.dcm")), 30,
                     "the forward queue to drain")
    caps = json.loads((tmp_path / "spool" / "capabilities.json").read_text())
    peer = caps[f"ORTHANC@127.0.0.1:{orthanc.dicom_port}"]
    assert all("1.2.840.10008.1.2.4.201" not in v["accepted"] for v in peer.values())


def test_lossy_profile_never_touches_mammography(orthanc: Any, images: dict[str, Path], tmp_path: Path,
                                                helpers: Any, storescu: Any) -> None:
    from medcodec.pacs.gateway import Gateway, GatewayConfig
    from medcodec.pacs.negotiation import Peer

    client = OrthancClient(orthanc.url)
    config = GatewayConfig(listen_port=helpers.free_port(), spool=tmp_path / "spool", profile="viewing",
                           forward=Peer("ORTHANC", "127.0.0.1", orthanc.dicom_port))
    mg, ct = dcmread(images["MG"]), dcmread(images["CT"])
    with Gateway(config) as gw:
        storescu(gw.port, [images["MG"], images["CT"]])
        helpers.wait_for(lambda: len(client.instances()) == 2, 60, "both instances in Orthanc")
    stored = {ds.Modality: ds for ds in (dcmread(BytesIO(client.instance_file(i))) for i in client.instances())}
    # The CT took the lossy viewing profile (new SOP Instance UID, lossy attributes) ...
    assert stored["CT"].LossyImageCompression == "01" and stored["CT"].SOPInstanceUID != ct.SOPInstanceUID
    # ... the mammogram was refused by the regulatory rule and forwarded exactly as received.
    assert stored["MG"].SOPInstanceUID == mg.SOPInstanceUID
    assert stored["MG"].get("LossyImageCompression", "00") != "01"
    assert str(stored["MG"].file_meta.TransferSyntaxUID) == str(mg.file_meta.TransferSyntaxUID)
    assert stored["MG"].PixelData == mg.PixelData
