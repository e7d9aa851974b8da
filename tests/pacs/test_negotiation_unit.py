"""Negotiation and queue logic without a peer: proposals, target choice, cache, back-off, error messages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from medcodec.pacs.forward_queue import ForwardQueue
from medcodec.pacs.negotiation import (
    EXPLICIT_VR_LE,
    IMPLICIT_VR_LE,
    MAX_CONTEXTS,
    CapabilityCache,
    ChainEntry,
    NegotiationError,
    Peer,
    fit,
    proposals,
    resolve_chain,
    target_syntax,
)

J2K, JLS, HTJ2K = "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.201"
CT = "1.2.840.10008.5.1.4.1.1.2"
CHAIN = [ChainEntry(HTJ2K, "htj2k_lossless"), ChainEntry(J2K, "jpeg2000_lossless"), ChainEntry(JLS, "jpeg_ls_lossless"),
         ChainEntry(EXPLICIT_VR_LE, None)]


def test_peer_parse_and_errors() -> None:
    assert Peer.parse("ORTHANC@127.0.0.1:4242") == Peer("ORTHANC", "127.0.0.1", 4242)
    with pytest.raises(ValueError, match=r"'orthanc:4242' is not a peer address; write it as AE@HOST:PORT"):
        Peer.parse("orthanc:4242")
    with pytest.raises(ValueError, match="the AE title must have 1 to 16 characters"):
        Peer.parse("A_VERY_LONG_AE_TITLE@127.0.0.1:104")


def test_one_transfer_syntax_per_context_and_at_most_128_per_association() -> None:
    groups = proposals([(CT, J2K), (CT, EXPLICIT_VR_LE)], CHAIN, extra=["2.25.1.2"])
    assert groups == [[(CT, J2K), (CT, EXPLICIT_VR_LE), (CT, HTJ2K), (CT, JLS), (CT, "2.25.1.2"),
                       (CT, IMPLICIT_VR_LE)]]
    many = proposals([(f"1.2.3.{i}", EXPLICIT_VR_LE) for i in range(60)], CHAIN)
    assert len(many) > 1 and all(len(g) <= MAX_CONTEXTS for g in many)
    assert sum(len(g) for g in many) == 60 * 5  # own/EVRLE + HTJ2K, J2K, JLS + IVRLE per SOP class


def test_target_is_own_syntax_if_accepted_else_first_accepted_chain_entry() -> None:
    assert target_syntax(HTJ2K, frozenset({HTJ2K, J2K}), CHAIN) == ChainEntry(HTJ2K, None)
    assert target_syntax(HTJ2K, frozenset({JLS, J2K, EXPLICIT_VR_LE}), CHAIN) == CHAIN[1]
    assert target_syntax(HTJ2K, frozenset({IMPLICIT_VR_LE}), CHAIN) is None


def test_capability_cache_learns_accepted_and_refused_and_persists(tmp_path: Path) -> None:
    peer = Peer("PACS", "127.0.0.1", 104)
    cache = CapabilityCache(tmp_path / "caps.json")
    assert cache.accepted(peer, CT) is None
    cache.learn(peer, [(CT, HTJ2K), (CT, J2K), (CT, EXPLICIT_VR_LE)], [(CT, J2K), (CT, EXPLICIT_VR_LE)])
    again = CapabilityCache(tmp_path / "caps.json")
    assert again.accepted(peer, CT) == frozenset({J2K, EXPLICIT_VR_LE})
    assert json.loads((tmp_path / "caps.json").read_text())[peer.key][CT]["refused"] == [HTJ2K]


def test_fit_reports_every_failed_step(tmp_path: Path) -> None:
    from pydicom import examples

    ds = examples.ct
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.201"  # claims HTJ2K: nothing can decode it
    with pytest.raises(NegotiationError, match=r"cannot be sent: the peer accepted only .* and transcoding "
                                               r"failed \(1\.2\.840\.10008\.1\.2\.1: "):
        fit(ds, frozenset({EXPLICIT_VR_LE}), [ChainEntry(EXPLICIT_VR_LE, None)], source="SOP Instance 1.2.3")


def test_resolve_chain_skips_missing_codecs_and_rejects_unknown_uids() -> None:
    chain = resolve_chain(["no_such_codec", "jpeg2000_lossless"])
    assert [e.codec for e in chain] == ["jpeg2000_lossless", None] and chain[-1].transfer_syntax == EXPLICIT_VR_LE
    with pytest.raises(ValueError, match=r"Fallback chain entry '1\.2\.3' is neither a native transfer syntax"):
        resolve_chain(["1.2.3"])


def test_queue_backs_off_exponentially_and_gives_up_into_failed(tmp_path: Path) -> None:
    queue = ForwardQueue(tmp_path, base_delay=10, max_delay=25, max_attempts=3)
    item = queue.put(b"DICM", "1.2.3")
    assert queue.claim(10) == [item] and queue.claim(10) == []  # claimed once
    queue.release([item])
    queue.retry(item, "peer down")
    assert queue.due(10) == [] and queue.due(10, now=time.time() + 11) == [item]
    queue.retry(item, "peer down")
    assert item.state()["next_try"] - time.time() == pytest.approx(20, abs=1)
    queue.retry(item, "peer down")
    assert queue.counts() == {"pending": 0, "committing": 0, "failed": 1}
    assert json.loads((tmp_path / "failed" / (item.path.name + ".json")).read_text())["attempts"] == 3


def test_gateway_command_rejects_a_bad_destination_clearly(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from medcodec.pacs.commands import gateway

    result = CliRunner().invoke(gateway, ["--listen", "127.0.0.1:1", "--forward", "orthanc",
                                          "--spool", str(tmp_path)])
    assert result.exit_code == 2
    assert "'orthanc' is not a peer address; write it as AE@HOST:PORT" in result.output
    result = CliRunner().invoke(gateway, ["--listen", "nowhere", "--spool", str(tmp_path)])
    assert result.exit_code == 2 and "'nowhere' is not HOST:PORT" in result.output
    result = CliRunner().invoke(gateway, ["--listen", "127.0.0.1:1", "--spool", str(tmp_path)])
    assert result.exit_code == 2
    assert "Give --forward AE@HOST:PORT and/or --store DIR" in result.output


def test_codec_pool_survives_a_crashing_worker_and_a_hanging_one() -> None:
    """A segfault in a codec worker (CPython's own crash helper) and a codec that does not return in time.

    The pool calls ``function(job)``; here ``job`` is the helper's argument rather than a :class:`Job`.
    """
    import faulthandler

    from medcodec.pacs.isolation import CodecPool

    crashing = CodecPool(1, timeout=60, function=faulthandler._sigsegv)  # type: ignore[attr-defined]
    try:
        outcome = crashing.run(0)  # type: ignore[arg-type]  # _sigsegv(0): SIGSEGV in the worker
    finally:
        crashing.close()
    assert outcome.kind == "failed" and "crashed its worker process twice" in outcome.message
    assert crashing.crashes == 2

    hanging = CodecPool(1, timeout=1.0, function=time.sleep)  # type: ignore[arg-type]
    started = time.monotonic()
    try:
        outcome = hanging.run(20)  # type: ignore[arg-type]  # sleeps 20 s; the limit is 1 s
    finally:
        hanging.close()
    assert outcome.kind == "failed" and "exceeded 1 s" in outcome.message and hanging.timeouts == 1
    assert time.monotonic() - started < 15


def test_gateway_refuses_to_keep_instances_nowhere(tmp_path: Path) -> None:
    from medcodec.pacs.gateway import Gateway, GatewayConfig

    with pytest.raises(ValueError, match="needs a destination .* or a local store"):
        Gateway(GatewayConfig(listen_port=1, spool=tmp_path))
