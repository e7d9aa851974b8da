"""Core test fixtures: the fake plugin registered in an isolated registry."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fakes
from medcodec import _plugins
from medcodec.testing import isolated_registry


@pytest.fixture
def toy_codec(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Register the toy private codec for one test; everything is undone afterwards."""
    monkeypatch.setitem(sys.modules, fakes.ADAPTER, fakes.adapter_module())
    with isolated_registry():
        _plugins.register_plugin(fakes.plugin_module(), "toy")
        yield fakes.TOY_UID
