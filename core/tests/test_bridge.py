"""The pydicom bridge: private UIDs, coder tables, placeholders, ordering, and pydicom's layout."""

from __future__ import annotations

import io
import subprocess
import sys
import threading

import medcodec
import numpy as np
import pydicom
import pytest
from medcodec import _pydicom
from medcodec.testing import make_dataset
from pydicom.pixels import iter_pixels, pixel_array
from pydicom.pixels.decoders.base import _PIXEL_DATA_DECODERS
from pydicom.pixels.encoders.base import _PIXEL_DATA_ENCODERS
from pydicom.uid import UID


def test_pydicom_still_has_what_the_bridge_relies_on() -> None:
    """Fails loudly in CI if a pydicom upgrade moves the private tables or the UID encoding attribute."""
    _pydicom.check_pydicom_layout()
    assert isinstance(_PIXEL_DATA_DECODERS, dict) and isinstance(_PIXEL_DATA_ENCODERS, dict)
    assert "_PRIVATE_TS_ENCODING" in UID.__annotations__


def test_unsupported_pydicom_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pydicom.metadata, "version", lambda name: "4.1.0")
    with pytest.raises(medcodec.MedcodecError, match=r"supports pydicom >= 3.0, < 4.0; found 4.1.0"):
        _pydicom.check_pydicom_layout()


def test_private_uid_from_plain_string_keeps_its_encoding(toy_codec: str) -> None:
    uid = UID(str(toy_codec))  # what dcmread and pynetdicom do
    assert uid.is_transfer_syntax and uid.is_encapsulated and not uid.is_implicit_VR and uid.is_little_endian
    assert uid.name == "Toy delta+zlib (medcodec test)"


def test_private_codec_round_trip_through_every_pydicom_path(toy_codec: str) -> None:
    ds = make_dataset(20, 30, 3, 16, True)
    expected = ds.pixel_array.copy()
    ds.compress(str(toy_codec))  # a str: the encoding must survive
    assert ds.file_meta.TransferSyntaxUID == toy_codec
    np.testing.assert_array_equal(ds.pixel_array, expected)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    raw = buffer.getvalue()
    reread = pydicom.dcmread(io.BytesIO(raw))
    assert not reread.is_implicit_VR if hasattr(reread, "is_implicit_VR") else True
    np.testing.assert_array_equal(reread.pixel_array, expected)
    np.testing.assert_array_equal(pixel_array(io.BytesIO(raw)), expected)
    np.testing.assert_array_equal(np.stack(list(iter_pixels(io.BytesIO(raw)))), expected)
    reread.decompress()
    assert reread.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    np.testing.assert_array_equal(reread.pixel_array, expected)


def test_implicit_vr_source_is_written_explicit_after_private_compress(toy_codec: str) -> None:
    """pydicom silently wrote implicit VR for a dataset read as implicit VR, before the shim."""
    path = pydicom.data.get_testdata_file("MR_small_implicit.dcm")
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ImplicitVRLittleEndian
    medcodec.compress(ds, "toy_delta_zlib")
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    reread = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    assert reread.file_meta.TransferSyntaxUID == toy_codec
    np.testing.assert_array_equal(reread.pixel_array, pydicom.dcmread(path).pixel_array)


def test_wire_is_idempotent_and_thread_safe(toy_codec: str) -> None:
    spec = medcodec.get_codec("toy_delta_zlib")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                _pydicom.wire(spec)
                medcodec.install()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    decoder = _PIXEL_DATA_DECODERS[UID(toy_codec)][0]
    assert list(decoder._available) == [spec.label]


def test_preferred_adapter_is_tried_before_pydicoms_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    import fakes
    from medcodec import _plugins
    from medcodec.testing import isolated_registry

    rle = "1.2.840.10008.1.2.5"
    module = fakes.adapter_module()
    module.DECODER_DEPENDENCIES = module.ENCODER_DEPENDENCIES = {rle: ("numpy",)}
    module.is_available = lambda uid: uid == rle
    monkeypatch.setitem(sys.modules, fakes.ADAPTER, module)
    with isolated_registry():
        index = _plugins.codec_index()
        standard_rle = index.get("rle_lossless")
        # Re-register RLE as a preferred plugin codec (the standard entry is dropped for the test).
        _plugins._state.index = type(index)()
        for spec in index:
            if spec is not standard_rle:
                _plugins._state.index.add(spec, index.owner(spec.name))
        _plugins.register_plugin(fakes.plugin_module("fast_rle", rle, prefer=True), "fast")
        decoder = _PIXEL_DATA_DECODERS[UID(rle)][0]
        assert next(iter(decoder._available)) == "medcodec.fast_rle"
        assert len(decoder._available) > 1, "pydicom's own plugins must stay as fallbacks"
    assert "medcodec.fast_rle" not in _PIXEL_DATA_DECODERS[UID(rle)][0]._available


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_missing_first_party_plugin_names_the_distribution_to_install() -> None:
    """Without the MIC plugin, pydicom's own message says what to pip install."""
    code = (
        "import pydicom\n"
        "ds = pydicom.examples.ct\n"
        "ds.compress('2.25.68667338034845433904652776429924625335.1.1')\n"
    )
    done = _run(code, MEDCODEC_LOAD_PLUGINS="standard")
    assert done.returncode != 0
    assert "medcodec.mic - requires medcodec-plugin-mic" in done.stderr


def test_autoload_can_be_disabled() -> None:
    code = (
        "import pydicom\n"
        "ds = pydicom.examples.ct\n"
        "ds.compress('1.2.840.10008.1.2.8.1')\n"
    )
    assert _run(code).returncode == 0
    disabled = _run(code, MEDCODEC_DISABLE_PLUGIN_AUTOLOAD="1")
    assert disabled.returncode != 0
    assert "No pixel data encoders have been implemented" in disabled.stderr


def test_startup_hook_imports_nothing_heavy() -> None:
    """The .pth hook must not import pydicom, pluggy or medcodec at interpreter start-up."""
    done = _run("import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in "
                "{'pydicom', 'pluggy', 'medcodec', 'numpy'}))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "_medcodec_hook" in _run("import sys; print(list(sys.modules))").stdout


def test_broken_install_never_breaks_import_pydicom() -> None:
    done = _run("import pydicom; print('ok')", MEDCODEC_LOAD_PLUGINS="standard,", PYTHONWARNINGS="ignore")
    assert done.returncode == 0 and "ok" in done.stdout
