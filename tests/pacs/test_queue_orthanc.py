"""Never lose an instance: the destination is down, the gateway restarts, then the PACS comes up."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from medcodec.pacs.orthanc import OrthancClient
from pydicom import dcmread

pytestmark = pytest.mark.orthanc


def test_pacs_down_then_up_queued_instances_arrive(orthanc_factory: Any, images: dict[str, Path],
                                                   tmp_path: Path, request: pytest.FixtureRequest,
                                                   helpers: Any, storescu: Any) -> None:
    pacs_port = helpers.free_port()  # nothing listens here yet
    spool = tmp_path / "spool"
    args = ("--forward", f"ORTHANC@127.0.0.1:{pacs_port}", "--spool", str(spool),
            "--retry-base", "0.2", "--retry-max", "1")
    files = [images["CT"], images["MR"], images["MG"]]
    uids = {str(dcmread(f, stop_before_pixels=True).SOPInstanceUID): f for f in files}

    # 1. The PACS is down: the sender still gets Success, because every instance is on disk.
    first, port = helpers.start_gateway(request, tmp_path, *args, name="gateway-1")
    storescu(port, files)
    pending = spool / "queue" / "pending"
    queued = {p.name.split("-", 1)[1][:-4] for p in pending.glob("*.dcm")}
    assert queued == set(uids)
    helpers.wait_for(lambda: len(list(pending.glob("*.dcm.json"))) == len(uids), 20, "failed attempts recorded")

    # 2. The gateway restarts while the PACS is still down: the queue survives it.
    helpers.stop(first)
    assert {p.name.split("-", 1)[1][:-4] for p in pending.glob("*.dcm")} == set(uids)

    # 3. The PACS comes up, the new gateway process drains the queue with back-off retries.
    orthanc = orthanc_factory("late-pacs", dicom_port=pacs_port)
    helpers.start_gateway(request, tmp_path, *args, name="gateway-2")
    client = OrthancClient(orthanc.url)
    def all_stored() -> dict[str, str] | None:
        found = client.sop_instance_uids()
        return found if set(uids) <= set(found) else None

    found = helpers.wait_for(all_stored, 60, "the queued instances in Orthanc")
    for uid, path in uids.items():
        ds = dcmread(BytesIO(client.instance_file(found[uid])))
        assert np.array_equal(ds.pixel_array, helpers.pixels(path))
    helpers.wait_for(lambda: not list(pending.glob("*.dcm")), 20, "an empty queue")
    assert not list((spool / "queue" / "failed").glob("*.dcm"))


def test_storage_commitment_purges_local_copies_only_after_orthanc_commits(
        orthanc_factory: Any, images: dict[str, Path], tmp_path: Path, helpers: Any, storescu: Any) -> None:
    from medcodec.pacs.gateway import Gateway, GatewayConfig
    from medcodec.pacs.negotiation import Peer

    gateway_port = helpers.free_port()
    orthanc = orthanc_factory("committing-pacs", modalities={"gateway": ("MEDCODEC", gateway_port)})
    files = [images["CT"], images["MR"]]
    uids = {str(dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files}
    config = GatewayConfig(listen_port=gateway_port, spool=tmp_path / "spool", storage_commitment=True,
                           forward=Peer("ORTHANC", "127.0.0.1", orthanc.dicom_port), retry_base=0.2, retry_max=1)
    queue = tmp_path / "spool" / "queue"
    with Gateway(config) as gw:
        storescu(gw.port, files)
        client = OrthancClient(orthanc.url)
        helpers.wait_for(lambda: uids <= set(client.sop_instance_uids()), 60, "the instances in Orthanc")
        # Orthanc confirms on a new association (N-EVENT-REPORT); only then are the local copies purged.
        helpers.wait_for(lambda: gw.committed == len(uids), 60, "Orthanc's storage commitment reports")
        for folder in ("pending", "committing", "failed"):
            assert not list((queue / folder).glob("*.dcm")), folder
    log = orthanc.log_path.read_text(errors="replace")
    assert "commitment" in log.lower()


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_sender_is_told_out_of_resources_when_the_queue_cannot_be_written(
        images: dict[str, Path], tmp_path: Path, helpers: Any, dcmtk: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from medcodec.pacs.forward_queue import ForwardQueue
    from medcodec.pacs.gateway import Gateway, GatewayConfig
    from medcodec.pacs.negotiation import Peer

    def disk_full(self: ForwardQueue, data: bytes, uid: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ForwardQueue, "put", disk_full)  # fault injection: the spool disk is full
    config = GatewayConfig(listen_port=helpers.free_port(), spool=tmp_path / "spool",
                           forward=Peer("ORTHANC", "127.0.0.1", helpers.free_port()))
    with Gateway(config) as gw:
        result = dcmtk("storescu", "-v", "-aec", "MEDCODEC", "127.0.0.1", str(gw.port), str(images["CT"]))
        assert gw.received == 0
    output = (result.stdout + result.stderr).lower()
    assert "refused: outofresources" in output, output  # DCMTK's wording for 0xA7xx
