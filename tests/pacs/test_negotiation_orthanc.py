"""Outbound negotiation against real Orthancs: an uncompressed-only peer, a private syntax, a codec that throws.

The gateway runs in-process here so that test codecs can be registered (medcodec.testing.isolated_registry);
images are sent with DCMTK storescu and read back from Orthanc over REST.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import medcodec
import numpy as np
import pytest
from medcodec._plugins import register_plugin
from medcodec.pacs.gateway import Gateway, GatewayConfig
from medcodec.pacs.negotiation import Peer
from medcodec.pacs.orthanc import OrthancClient
from medcodec.registry import CodecChoice, CodecSpec, CompressionRequest
from medcodec.testing import isolated_registry
from pydicom import dcmread

pytestmark = pytest.mark.orthanc

NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}
IDENTITY_UID = medcodec.MEDCODEC_UID_ROOT + ".9.72"   # the .9 arc is reserved for tests
BOOM_UID = medcodec.MEDCODEC_UID_ROOT + ".9.71"
ADAPTER = "medcodec_pacs_test_adapter"
UNCOMPRESSED_ONLY = {
    "AcceptedTransferSyntaxes": sorted(NATIVE),
    **{f"{kind}TransferSyntaxAccepted": False for kind in
       ("Deflated", "Jpeg", "Jpeg2000", "JpegLossless", "Jpip", "Mpeg2", "Rle", "Mpeg4", "H265")},
}


def _adapter() -> ModuleType:
    """A pydicom plugin module: 'pacs_identity' stores frames verbatim behind a magic; 'pacs_boom' throws."""
    module = ModuleType(ADAPTER)

    def is_available(uid: str) -> bool:
        return uid in (IDENTITY_UID, BOOM_UID)

    def encode_frame(src: bytes, runner: Any) -> bytes:
        if runner.transfer_syntax == BOOM_UID:
            raise RuntimeError("the test codec exploded")
        return b"IDN1" + bytes(src) + (b"\0" if len(src) % 2 else b"")

    def decode_frame(src: bytes, runner: Any) -> bytes:
        if runner.transfer_syntax == BOOM_UID or src[:4] != b"IDN1":
            raise medcodec.DecodeError("pacs_identity", str(runner.transfer_syntax), "not an IDN1 frame")
        size = runner.rows * runner.columns * runner.samples_per_pixel * ((runner.bits_allocated + 7) // 8)
        return bytes(src[4:4 + size])

    module.is_available = is_available  # type: ignore[attr-defined]
    module.DECODER_DEPENDENCIES = module.ENCODER_DEPENDENCIES = {  # type: ignore[attr-defined]
        IDENTITY_UID: (), BOOM_UID: ()}
    module.encode_frame, module.decode_frame = encode_frame, decode_frame  # type: ignore[attr-defined]
    return module


def _plugin(choose: str) -> ModuleType:
    """Test codecs plus a site policy that picks ``choose`` unless a codec is requested explicitly."""
    plugin = ModuleType(f"pacs_test_plugin_{choose}")

    @medcodec.hookimpl
    def medcodec_register_codecs(register: Any) -> None:
        for name, uid in (("pacs_identity", IDENTITY_UID), ("pacs_boom", BOOM_UID)):
            register(CodecSpec(name, uid, True, ADAPTER, "(tests)", bits_stored=(8, 12, 16),
                               samples_per_pixel=(1,), keyword=f"PacsTest{name.title()}",
                               uid_name=f"{name} (medcodec tests)"))

    @medcodec.hookimpl
    def medcodec_select_codec(ds: Any, request: CompressionRequest) -> CodecChoice | None:
        return None if request.codec else CodecChoice(choose, {}, "test-site-policy")

    plugin.medcodec_register_codecs = medcodec_register_codecs  # type: ignore[attr-defined]
    plugin.medcodec_select_codec = medcodec_select_codec  # type: ignore[attr-defined]
    return plugin


@pytest.fixture
def site_codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Register the test codecs and a site policy choosing ``request.param`` for the duration of a test."""
    if not request.param.startswith("pacs_"):
        from medcodec._pydicom import coder_status

        try:
            available, missing = coder_status(medcodec.get_codec(request.param))
        except medcodec.UnknownCodecError:
            available, missing = False, ["not registered"]
        if not available:
            pytest.skip(f"codec '{request.param}' is not usable here: {'; '.join(missing)}")
    sys.modules[ADAPTER] = _adapter()
    try:
        with isolated_registry():
            register_plugin(_plugin(request.param), f"pacs-test-{request.param}")
            yield request.param
    finally:
        sys.modules.pop(ADAPTER, None)


def _gateway(tmp_path: Path, orthanc: Any, helpers: Any, **kwargs: Any) -> Gateway:
    config = GatewayConfig(listen_port=helpers.free_port(), spool=tmp_path / "spool",
                           forward=Peer("ORTHANC", "127.0.0.1", orthanc.dicom_port),
                           retry_base=0.2, retry_max=1.0, **kwargs)
    return Gateway(config)


def _arrived(client: OrthancClient, uids: set[str], helpers: Any) -> dict[str, Any]:
    def complete() -> dict[str, str] | None:
        found = client.sop_instance_uids()
        return found if uids <= set(found) else None

    found = helpers.wait_for(complete, 60, f"{len(uids)} instance(s) in Orthanc")
    return {uid: dcmread(BytesIO(client.instance_file(found[uid]))) for uid in uids}


def test_uncompressed_only_peer_gets_native_bit_exact(orthanc_factory: Any, images: dict[str, Path],
                                                      tmp_path: Path, helpers: Any, storescu: Any) -> None:
    peer = orthanc_factory("uncompressed-only", config=UNCOMPRESSED_ONLY)
    client = OrthancClient(peer.url)
    files = [images["CT"], images["CT-J2K"], images["MR-RLE"]]
    with _gateway(tmp_path, peer, helpers) as gw:
        storescu(gw.port, files)
        uids = {str(dcmread(f, stop_before_pixels=True).SOPInstanceUID): f for f in files}
        stored = _arrived(client, set(uids), helpers)
    for uid, ds in stored.items():
        assert str(ds.file_meta.TransferSyntaxUID) in NATIVE
        assert np.array_equal(ds.pixel_array, helpers.pixels(uids[uid])), uids[uid].name
    caps = json.loads((tmp_path / "spool" / "capabilities.json").read_text())
    learned = caps[f"ORTHANC@127.0.0.1:{peer.dicom_port}"]["1.2.840.10008.5.1.4.1.1.2"]
    assert set(learned["accepted"]) <= NATIVE
    assert {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80"} <= set(learned["refused"])


@pytest.mark.parametrize("site_codec", ["pacs_identity", "mic"], indirect=True)
def test_private_syntax_is_never_sent_to_a_peer_that_refused_it(
        site_codec: str, orthanc: Any, images: dict[str, Path], tmp_path: Path, helpers: Any,
        storescu: Any) -> None:
    client = OrthancClient(orthanc.url)
    files = [images["CT"], images["MR"]]
    uids = {str(dcmread(f, stop_before_pixels=True).SOPInstanceUID): f for f in files}
    with _gateway(tmp_path, orthanc, helpers, store=tmp_path / "store") as gw:
        storescu(gw.port, files)
        stored = _arrived(client, set(uids), helpers)
    accepted_by_orthanc = set(client.accepted_transfer_syntaxes())
    for uid, ds in stored.items():
        ts = str(ds.file_meta.TransferSyntaxUID)
        assert not ts.startswith(medcodec.MEDCODEC_UID_ROOT) and ts in accepted_by_orthanc
        assert np.array_equal(ds.pixel_array, helpers.pixels(uids[uid]))
    private = medcodec.get_codec(site_codec).transfer_syntax
    kept = [dcmread(p, stop_before_pixels=True) for p in (tmp_path / "store").rglob("*.dcm")]
    assert {str(k.file_meta.TransferSyntaxUID) for k in kept} == {private}  # compressed locally ...
    caps = json.loads((tmp_path / "spool" / "capabilities.json").read_text())
    for learned in caps[f"ORTHANC@127.0.0.1:{orthanc.dicom_port}"].values():
        assert private not in learned["accepted"] and private in learned["refused"]  # ... refused by Orthanc


@pytest.mark.parametrize("site_codec", ["pacs_boom"], indirect=True)
def test_codec_that_throws_forwards_the_original(site_codec: str, orthanc: Any, images: dict[str, Path],
                                                 tmp_path: Path, helpers: Any, storescu: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    client = OrthancClient(orthanc.url)
    source = dcmread(images["CT"])
    with caplog.at_level(logging.INFO, logger="medcodec.pacs"), _gateway(tmp_path, orthanc, helpers) as gw:
        storescu(gw.port, [images["CT"]])
        uid = str(source.SOPInstanceUID)
        stored = _arrived(client, {uid}, helpers)[uid]
        assert gw.codec_failures == 1
    assert str(stored.file_meta.TransferSyntaxUID) == str(source.file_meta.TransferSyntaxUID)
    assert stored.PixelData == source.PixelData
    failure = [r.getMessage() for r in caplog.records if "compression failed" in r.getMessage()]
    assert failure and uid in failure[0] and "exploded" in failure[0]
    assert str(source.PatientName) not in caplog.text and str(source.get("PatientID", "@@")) not in caplog.text


# pynetdicom 3.0.4 leaves the socket of a refused connection unclosed (a ResourceWarning from its transport).
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_htj2k_made_while_the_peer_was_unknown_is_transcoded_for_orthanc(
        orthanc_factory: Any, images: dict[str, Path], tmp_path: Path, helpers: Any, storescu: Any) -> None:
    """Ingest while the PACS is down: the policy picks HTJ2K; at forward time Orthanc refuses it (verified by
    the capability cache) and receives a standard lossless syntax with identical pixels."""
    from medcodec._pydicom import coder_status

    htj2k = "1.2.840.10008.1.2.4.202"
    try:
        available, missing = coder_status(medcodec.get_codec("htj2k_lossless_rpcl"))
    except medcodec.UnknownCodecError:
        available, missing = False, ["the htj2k plugin is not installed"]
    if not available:
        pytest.skip(f"HTJ2K encoder not usable here: {'; '.join(missing)}")
    port = helpers.free_port()
    files = [images["CT"], images["MR"]]
    uids = {str(dcmread(f, stop_before_pixels=True).SOPInstanceUID): f for f in files}
    with _gateway(tmp_path, type("Down", (), {"dicom_port": port})(), helpers, store=tmp_path / "store") as gw:
        storescu(gw.port, files)
        kept = {str(dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID)
                for p in (tmp_path / "store").rglob("*.dcm")}
        assert kept == {htj2k}
        peer = orthanc_factory("late", dicom_port=port)
        client = OrthancClient(peer.url)
        stored = _arrived(client, set(uids), helpers)
    for uid, ds in stored.items():
        ts = str(ds.file_meta.TransferSyntaxUID)
        assert not ts.startswith("1.2.840.10008.1.2.4.20") and ts in set(client.accepted_transfer_syntaxes())
        assert np.array_equal(ds.pixel_array, helpers.pixels(uids[uid]))
    caps = json.loads((tmp_path / "spool" / "capabilities.json").read_text())
    assert all(htj2k in v["refused"] for v in caps[f"ORTHANC@127.0.0.1:{port}"].values())
