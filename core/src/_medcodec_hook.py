"""Start-up hook run by ``medcodec.pth``: call ``medcodec.install()`` once pydicom has been imported.

It must cost almost nothing and never break interpreter start-up, so it imports only ``sys`` and ``os``, and
does nothing but put a small finder at the front of ``sys.meta_path``. When the ``pydicom`` package has finished
executing (its ``__init__`` imports ``pydicom.pixels``, whose coder tables the install fills; installing while
``pydicom.pixels`` itself is still executing would see a half-initialised ``pydicom``), the finder removes
itself and calls ``medcodec.install()``; a failure there becomes a warning
(or, under ``MEDCODEC_STRICT_PLUGINS=1``, an error), never a failed ``import pydicom``.
Disable with ``MEDCODEC_DISABLE_PLUGIN_AUTOLOAD=1``.
"""

import os
import sys

TARGET = "pydicom"


class _InstallAfterImport:
    """A meta-path finder that only wraps the real loader of the ``pydicom`` package."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != TARGET:
            return None
        # Let the other finders find the real spec; we only wrap its loader.
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            _remove()
            _install()

        loader.exec_module = exec_module
        return spec


def _remove():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _InstallAfterImport)]


def _install():
    bridge = sys.modules.get("medcodec._pydicom")
    if bridge is not None and not hasattr(bridge, "wire"):
        # medcodec's own bridge is importing pydicom right now; its callers run install() once it is loaded.
        return
    try:
        import medcodec

        medcodec.install()
    except Exception as exc:  # start-up must never fail because of a plugin
        if os.environ.get("MEDCODEC_STRICT_PLUGINS", "") in {"1", "true", "yes"}:
            raise
        import warnings

        warnings.warn(f"medcodec could not register its codecs with pydicom: {exc!r}", stacklevel=2)


def _activate():
    if os.environ.get("MEDCODEC_DISABLE_PLUGIN_AUTOLOAD", "").strip().lower() in {"1", "true", "yes", "on"}:
        return
    if TARGET in sys.modules:  # already imported (e.g. a .pth sorted after pydicom's use): install now
        _install()
        return
    if not any(isinstance(f, _InstallAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _InstallAfterImport())


try:
    _activate()
except Exception:  # noqa: BLE001, S110 - never break interpreter start-up
    pass
