"""Test isolation: undo every codec and plugin registered inside a block; find ``../shared``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def isolated_registry() -> Iterator[None]:
    """Snapshot pydicom's coder tables and medcodec's plugin state; restore them on exit, always.

    Inside the block, register fake plugins with ``medcodec._plugins.register_plugin(module, name)``.
    """
    from medcodec import _plugins, _pydicom

    _plugins.install()
    before = {name for name, _plugin in _plugins.plugin_manager().list_name_plugin()}
    index, records = _plugins._state.index.copy(), dict(_plugins._state.records)
    with _pydicom.isolated():
        try:
            yield
        finally:
            pm = _plugins.plugin_manager()
            for name, _plugin in pm.list_name_plugin():
                if name not in before:
                    pm.unregister(name=name)
            _plugins._state.index, _plugins._state.records = index, records


def shared_dir() -> Path | None:
    """The project's ``shared/`` folder (beside the repository root), or ``$MEDCODEC_SHARED``; None if absent."""
    env = os.environ.get("MEDCODEC_SHARED")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared"
        if (candidate / "corpus").is_dir():
            return candidate
        if (parent / ".git").exists() or (parent / "pyproject.toml").exists() and (parent / "core").is_dir():
            sibling = parent.parent / "shared"
            return sibling if sibling.is_dir() else None
    return None
