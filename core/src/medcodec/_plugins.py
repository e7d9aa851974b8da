"""The plugin manager: entry-point loading, environment switches, and the typed facade over the hooks.

Code outside this module never calls ``pm.hook.*``; it calls the functions at the bottom of this file.

Environment switches (the entry-point name is the plugin's name):

* ``MEDCODEC_LOAD_PLUGINS=mic,htj2k`` -- load only these entry points (``standard`` is the core's own);
* ``MEDCODEC_STRICT_PLUGINS=1`` -- a plugin that fails to load raises instead of warning (CI uses this);
* ``MEDCODEC_TRACE_HOOKS=1`` -- print every hook call and result (pluggy's hook-call monitoring);
* ``MEDCODEC_DISABLE_PLUGIN_AUTOLOAD=1`` -- read by the ``.pth`` start-up hook, not here.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from medcodec import hookspecs
from medcodec.errors import MedcodecPluginWarning, PluginLoadError
from medcodec.registry import CodecChoice, CodecIndex, CodecSpec, Refusal

if TYPE_CHECKING:
    import click
    from pydicom import Dataset

    from medcodec.registry import CompressionRequest, EncodeReport

PROJECT = "medcodec"
#: Built-in hookimpl modules, registered after the entry points (they are ``trylast`` where order matters).
BUILTIN_PLUGINS = ("medcodec.policy", "medcodec.metadata")


@dataclass
class PluginRecord:
    """One loaded (or failed) plugin, for ``medcodec plugins``."""

    name: str
    distribution: str
    version: str
    module: Any = None
    error: str | None = None
    codecs: list[CodecSpec] = field(default_factory=list)


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pm: pluggy.PluginManager | None = None
        self.records: dict[str, PluginRecord] = {}
        self.index = CodecIndex()
        self.installed = False


_state = _State()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _selected(name: str) -> bool:
    only = os.environ.get("MEDCODEC_LOAD_PLUGINS", "").strip()
    if not only:
        return True
    return name in {part.strip() for part in only.split(",")}


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if _env_flag("MEDCODEC_TRACE_HOOKS"):
        def before(hook_name: str, impls: Any, kwargs: Any) -> None:
            print(f"medcodec: call {hook_name}({', '.join(kwargs)}) -> {[i.plugin_name for i in impls]}",
                  file=sys.stderr)

        def after(outcome: Any, hook_name: str, impls: Any, kwargs: Any) -> None:
            print(f"medcodec: {hook_name} returned {outcome.get_result()!r}", file=sys.stderr)

        pm.add_hookcall_monitoring(before, after)
    return pm


def _fail(name: str, dist: str, version: str, exc: BaseException) -> None:
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    _state.records[name] = PluginRecord(name, dist, version, error=detail)
    if _env_flag("MEDCODEC_STRICT_PLUGINS"):
        raise PluginLoadError(name, detail) from exc
    warnings.warn(
        f'Error importing plugin "{name}" from {dist} {version}; it is disabled:\n'
        + "".join(traceback.format_exception(exc)),
        MedcodecPluginWarning,
        stacklevel=3,
    )


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    for ep in metadata.entry_points(group=PROJECT):
        if not _selected(ep.name) or pm.get_plugin(ep.name) is not None:
            continue
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # noqa: BLE001 - reported as a warning or PluginLoadError, never swallowed
            _fail(ep.name, dist, version, exc)
            continue
        _state.records[ep.name] = PluginRecord(ep.name, dist, version, module)


def _call_impl(impl: Any, **kwargs: Any) -> Any:
    """Call one hook implementation with the subset of arguments it declares (pluggy's rule)."""
    return impl.function(**{name: kwargs[name] for name in impl.argnames})


def _collect_codecs(pm: pluggy.PluginManager, only: Iterable[str] | None = None) -> None:
    wanted = set(only) if only is not None else None
    for impl in pm.hook.medcodec_register_codecs.get_hookimpls():
        name = impl.plugin_name
        if wanted is not None and name not in wanted:
            continue
        record = _state.records.setdefault(name, PluginRecord(name, "?", "?", impl.plugin))

        def register(spec: CodecSpec, _owner: str = name, _record: PluginRecord = record) -> None:
            if not isinstance(spec, CodecSpec):
                raise TypeError(f"plugin '{_owner}' registered {spec!r}, not a medcodec.CodecSpec")
            _state.index.add(spec, _owner)
            _record.codecs.append(spec)

        try:
            _call_impl(impl, register=register)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the others down
            pm.unregister(name=name)
            _fail(name, record.distribution, record.version, exc)


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager, with entry points and built-ins loaded (codecs are not wired yet)."""
    with _state.lock:
        if _state.pm is None:
            pm = _new_manager()
            _load_entry_points(pm)
            for modname in BUILTIN_PLUGINS:
                module = __import__(modname, fromlist=["_"])
                pm.register(module, name=modname)
            pm.check_pending()
            _state.pm = pm
            _collect_codecs(pm)
        return _state.pm


def install() -> None:
    """Register every installed codec with pydicom. Locked, idempotent, safe to call from any thread.

    The ``.pth`` start-up hook calls this the first time ``pydicom.pixels`` is imported; call it yourself under
    ``python -S``, in frozen applications, or after ``MEDCODEC_DISABLE_PLUGIN_AUTOLOAD=1``.
    """
    with _state.lock:
        if _state.installed:
            return
        from medcodec import _pydicom

        _pydicom.check_pydicom_layout()
        plugin_manager()
        for spec in _state.index:
            try:
                _pydicom.wire(spec)
            except Exception as exc:  # noqa: BLE001
                owner = _state.index.owner(spec.name)
                record = _state.records.get(owner)
                _fail(owner, record.distribution if record else "?", record.version if record else "?", exc)
        _pydicom.wire_placeholders({spec.name for spec in _state.index})
        _state.installed = True


def register_plugin(module: Any, name: str) -> None:
    """Register an in-process plugin (tests, applications) and wire its codecs. Undo with unregister_plugin."""
    with _state.lock:
        pm = plugin_manager()
        pm.register(module, name=name)
        pm.check_pending()
        _state.records[name] = PluginRecord(name, "(in-process)", "-", module)
        _collect_codecs(pm, only=[name])
        if _state.installed:
            from medcodec import _pydicom

            for spec in _state.records[name].codecs:
                _pydicom.wire(spec)


def unregister_plugin(name: str) -> None:
    """Remove an in-process plugin and its codecs from the index (pydicom tables: use isolated_registry)."""
    with _state.lock:
        pm = plugin_manager()
        record = _state.records.pop(name, None)
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
        if record:
            fresh = CodecIndex()
            for spec in _state.index:
                if spec not in record.codecs:
                    fresh.add(spec, _state.index.owner(spec.name))
            _state.index = fresh


# --- typed facade ------------------------------------------------------------------------------------------


def codec_index() -> CodecIndex:
    plugin_manager()
    return _state.index


def plugin_records() -> list[PluginRecord]:
    plugin_manager()
    return list(_state.records.values())


def hook_names(name: str) -> list[str]:
    pm = plugin_manager()
    plugin = pm.get_plugin(name)
    if plugin is None:
        return []
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])


def distribution_versions() -> dict[str, str]:
    """{distribution: version} for every plugin distribution pluggy or we loaded."""
    return {r.distribution: r.version for r in plugin_records() if r.distribution not in {"?", "(in-process)"}}


def select_codec(ds: Dataset, request: CompressionRequest) -> CodecChoice | Refusal | None:
    result = plugin_manager().hook.medcodec_select_codec(ds=ds, request=request)
    if result is not None and not isinstance(result, CodecChoice | Refusal):
        raise TypeError(f"medcodec_select_codec returned {result!r}, not a CodecChoice or Refusal")
    return result


def update_metadata(ds: Dataset, spec: CodecSpec, report: EncodeReport) -> None:
    plugin_manager().hook.medcodec_update_metadata(ds=ds, spec=spec, report=report)


def record_outcome(record: dict[str, Any]) -> None:
    plugin_manager().hook.medcodec_record_outcome(record=record)


def register_commands(cli: click.Group) -> None:
    pm = plugin_manager()
    for impl in pm.hook.medcodec_register_commands.get_hookimpls():
        try:
            _call_impl(impl, cli=cli)
        except Exception as exc:  # noqa: BLE001
            record = _state.records.get(impl.plugin_name)
            _fail(impl.plugin_name, record.distribution if record else "?",
                  record.version if record else "?", exc)
