"""The ``medcodec`` command: plugins, doctor and the demo; plugins and the archive/PACS modules add more."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from medcodec import __version__

#: Core command modules: (module, attribute, name). Imported lazily so ``medcodec --version`` stays fast.
CORE_COMMANDS: list[tuple[str, str, str]] = [
    ("medcodec.demo", "demo", "demo"),
    ("medcodec.commands", "compress", "compress"),
    ("medcodec.commands", "decompress", "decompress"),
    ("medcodec.commands", "transcode", "transcode"),
    ("medcodec.commands", "verify", "verify"),
    ("medcodec.commands", "info", "info"),
    ("medcodec.commands", "report", "report"),
    ("medcodec.commands", "policy", "policy"),
    ("medcodec.pacs.commands", "gateway", "gateway"),
    ("medcodec.pacs.commands", "pacs", "pacs"),
]


class _LazyGroup(click.Group):
    """Adds the core's own command modules and every plugin's commands the first time commands are listed."""

    _loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        import importlib

        for module_name, attr, name in CORE_COMMANDS:
            module = importlib.import_module(module_name)
            self.add_command(getattr(module, attr), name)
        from medcodec._plugins import register_commands

        register_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medcodec")
def cli() -> None:
    """medcodec: pixel-data codecs, policy, verification and audit for pydicom 3."""


def plugins_report(include_all: bool = True) -> list[dict[str, Any]]:
    from medcodec import _pydicom
    from medcodec._plugins import hook_names, install, plugin_records

    install()
    report: list[dict[str, Any]] = []
    for record in plugin_records():
        codecs = []
        for spec in record.codecs:
            available, missing = _pydicom.coder_status(spec)
            codecs.append({
                "name": spec.name,
                "transfer_syntax": spec.transfer_syntax,
                "lossless": spec.lossless,
                "available": available,
                "missing": missing,
            })
        report.append({
            "name": record.name,
            "distribution": record.distribution,
            "version": record.version,
            "hooks": hook_names(record.name),
            "codecs": codecs,
            "error": record.error,
        })
    if include_all:
        placeholders = [
            {"name": name, "distribution": dist, "version": None, "hooks": [],
             "codecs": [{"name": name, "transfer_syntax": uid, "lossless": name != "dct_teaching",
                         "available": False, "missing": [dist]}],
             "error": None}
            for name, uid, dist, _kw, _n in _pydicom.FIRST_PARTY_CODECS
            if _pydicom.is_placeholder(f"medcodec.{name}")
        ]
        report.extend(placeholders)
    return report


@cli.command()
@click.option("--json", "as_json", is_flag=True, default=True, help="Print JSON (the default).")
@click.option("--all", "include_all", is_flag=True, help="Also list first-party codecs that are not installed.")
def plugins(as_json: bool, include_all: bool) -> None:
    """List installed plugins, their hooks and codecs (JSON)."""
    click.echo(json.dumps(plugins_report(include_all), indent=2))


def doctor_line() -> str:
    import pydicom

    from medcodec._plugins import install, plugin_records

    install()
    parts = [f"{r.name}-{r.version}" + (" (error)" if r.error else "") for r in plugin_records()
             if r.distribution != "(in-process)"]
    return f"medcodec {__version__}, pydicom {pydicom.__version__}, plugins: {', '.join(parts) or '(none)'}"


@cli.command()
def doctor() -> None:
    """One line with the versions of medcodec, pydicom and every plugin; then any problems found."""
    from medcodec._plugins import plugin_records

    click.echo(doctor_line())
    broken = [r for r in plugin_records() if r.error]
    for record in broken:
        click.echo(f"error: plugin '{record.name}' ({record.distribution}): {record.error}", err=True)
    sys.exit(1 if broken else 0)


def main() -> None:
    cli(prog_name="medcodec")


if __name__ == "__main__":
    main()
