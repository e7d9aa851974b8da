"""Command line: ``medcodec gateway`` and ``medcodec pacs recompress|rollback`` (needs ``medcodec[pacs]``)."""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path

import click

from medcodec.pacs.negotiation import DEFAULT_CHAIN


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise click.BadParameter(f"'{text}' is not HOST:PORT (e.g. 127.0.0.1:11112)") from None


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)


@click.command()
@click.option("--listen", "listen", required=True, metavar="HOST:PORT", help="Address to listen on.")
@click.option("--ae-title", default="MEDCODEC", show_default=True, help="This gateway's AE title.")
@click.option("--forward", "forward", metavar="AE@HOST:PORT", help="Destination PACS.")
@click.option("--policy", "policy_file", metavar="FILE|PRESET",
              help="Compression policy TOML file or preset name (see docs/user/policy.md).")
@click.option("--profile", default="diagnostic", show_default=True,
              help="Policy profile (diagnostic is lossless; MG is always lossless).")
@click.option("--no-compress", is_flag=True, help="Forward what was received (still negotiated/transcoded).")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path), help="Keep a copy of every instance.")
@click.option("--spool", type=click.Path(file_okay=False, path_type=Path), default=Path("medcodec-spool"),
              show_default=True, help="Forward queue and peer capability cache (must survive restarts).")
@click.option("--fallback", default=",".join(DEFAULT_CHAIN), show_default=True,
              help="Fallback chain when the peer refuses a syntax: codec names or native UIDs, best first.")
@click.option("--retry-base", type=float, default=1.0, show_default=True, help="First retry delay (s).")
@click.option("--retry-max", type=float, default=60.0, show_default=True, help="Longest retry delay (s).")
@click.option("--max-attempts", type=int, default=None, help="Move an instance to failed/ after N attempts.")
@click.option("--workers", type=int, default=2, show_default=True,
              help="Codec worker processes (isolation from codec crashes; 0 = in-process, serialised).")
@click.option("--forward-associations", type=int, default=2, show_default=True,
              help="Concurrent associations used to forward to the destination.")
@click.option("--codec-timeout", type=float, default=120.0, show_default=True,
              help="Seconds one instance may take to compress; then the original is forwarded.")
@click.option("--storage-commitment", is_flag=True,
              help="Keep forwarded instances until the destination confirms storage commitment.")
@click.option("-v", "--verbose", is_flag=True, help="Log every instance (UIDs only).")
def gateway(listen: str, ae_title: str, forward: str | None, policy_file: str | None, profile: str,
            no_compress: bool, store: Path | None, spool: Path, fallback: str, retry_base: float,
            retry_max: float, max_attempts: int | None, workers: int, forward_associations: int,
            codec_timeout: float, storage_commitment: bool, verbose: bool) -> None:
    """Storage gateway: C-STORE SCP -> policy -> verify -> store -> forward (queued, retried)."""
    from medcodec.pacs.gateway import Gateway, GatewayConfig
    from medcodec.pacs.negotiation import Peer

    _logging(verbose)
    host, port = _listen(listen)
    _use_policy(policy_file)
    try:
        peer = Peer.parse(forward) if forward else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--forward") from None
    if peer is None and store is None:
        raise click.UsageError("Give --forward AE@HOST:PORT and/or --store DIR: a gateway that keeps instances "
                               "nowhere would answer Success and lose them.")
    _crash_dumps()
    config = GatewayConfig(listen_port=port, listen_host=host, ae_title=ae_title, forward=peer, store=store,
                           spool=spool, profile=profile, compress=not no_compress,
                           chain=tuple(fallback.split(",")), retry_base=retry_base, retry_max=retry_max,
                           max_attempts=max_attempts, storage_commitment=storage_commitment,
                           workers=workers, forward_associations=forward_associations,
                           codec_timeout=codec_timeout, policy=policy_file)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    gw = Gateway(config).start()
    click.echo(json.dumps({"listening": f"{host}:{gw.port}", "ae_title": ae_title,
                           "forward": str(peer) if peer else None,
                           "fallback": [e.codec or e.transfer_syntax for e in gw.chain]}), err=True)
    try:
        done.wait()
    finally:
        status = gw.status()
        gw.stop()
        click.echo(json.dumps(status), err=True)


def _crash_dumps() -> None:
    """A crash in a native codec leaves a Python traceback in the log; ``kill -USR1 <pid>`` dumps all threads."""
    import faulthandler
    import io

    try:
        faulthandler.enable()
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    except (io.UnsupportedOperation, ValueError, AttributeError):  # stderr is not a real file (tests, IDEs)
        pass


def _use_policy(policy: str | None) -> None:
    """Make a policy file or preset the active policy (medcodec.policy.use_policy); errors are usage errors."""
    if policy is None:
        return
    from medcodec.policy import PolicyError, use_policy

    try:
        use_policy(policy)
    except (PolicyError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--policy") from None


@click.group()
def pacs() -> None:
    """Work on a PACS archive (Orthanc REST)."""


@pacs.command()
@click.option("--url", required=True, help="Orthanc REST URL, e.g. http://127.0.0.1:8042")
@click.option("--query", "queries", multiple=True, metavar="TAG=VALUE",
              help="DICOM query (repeatable), e.g. --query Modality=CT --query StudyDate=2024*")
@click.option("--policy", "policy_file", metavar="FILE|PRESET", help="Compression policy TOML file or preset.")
@click.option("--profile", default="diagnostic", show_default=True, help="Policy profile.")
@click.option("--codec", default=None, help="Force one codec (the policy still applies its rules).")
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("medcodec-recompress"), show_default=True,
              help="Journal (audit trail), originals and rollback file; reuse it to resume.")
@click.option("--dry-run", is_flag=True, help="Encode and verify, but change nothing in the archive.")
@click.option("--limit", type=int, default=None, help="Stop after N instances.")
@click.option("--pause", type=float, default=0.0, show_default=True,
              help="Seconds to wait between instances (be gentle with a busy PACS).")
@click.option("--user", default=None, help="Orthanc user (the password is read from ORTHANC_PASSWORD).")
@click.option("-v", "--verbose", is_flag=True)
def recompress(url: str, queries: tuple[str, ...], policy_file: str | None, profile: str, codec: str | None, state_dir: Path,
               dry_run: bool, limit: int | None, pause: float, user: str | None, verbose: bool) -> None:
    """Recompress an archive by policy: download, encode, verify, upload, then delete the old instance."""
    import os

    from medcodec.pacs.orthanc import OrthancClient
    from medcodec.pacs.recompress import Recompressor

    _logging(verbose)
    _use_policy(policy_file)
    query = {}
    for item in queries:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"'{item}' is not TAG=VALUE", param_hint="--query")
        query[key] = value
    auth = (user, os.environ.get("ORTHANC_PASSWORD", "")) if user else None
    job = Recompressor(OrthancClient(url, auth=auth), state_dir, profile=profile, codec=codec,
                       dry_run=dry_run, pause=pause)
    summary = job.run(query, limit=limit)
    click.echo(json.dumps(summary, indent=2))
    if summary.get("failed"):
        raise SystemExit(1)


@pacs.command()
@click.option("--url", required=True, help="Orthanc REST URL.")
@click.option("--state", "state_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              required=True, help="The --state folder of the recompression to undo.")
@click.option("--user", default=None)
def rollback(url: str, state_dir: Path, user: str | None) -> None:
    """Put the original instances back (from the rollback file of a recompression)."""
    import os

    from medcodec.pacs.orthanc import OrthancClient
    from medcodec.pacs.recompress import rollback as do_rollback

    _logging(False)
    auth = (user, os.environ.get("ORTHANC_PASSWORD", "")) if user else None
    click.echo(json.dumps(do_rollback(OrthancClient(url, auth=auth), state_dir), indent=2))
