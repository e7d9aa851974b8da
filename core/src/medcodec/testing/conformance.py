"""``CodecConformance``: the test base class every medcodec codec plugin subclasses.

Shaped like zarr's ``StoreTests``: fixtures and capabilities are class attributes, unsupported cases
``pytest.skip`` with a reason, and the codec is looked up through the installed entry point, so discovery is
tested too. A plugin's test module::

    from medcodec.testing import CodecConformance

    class TestMicConformance(CodecConformance):
        codec_name = "mic"
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from medcodec.testing.datasets import make_dataset

SIZES = {"1x1": (1, 1), "7x13": (7, 13), "64x48": (64, 48)}


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


class CodecConformance:
    """Subclass and set ``codec_name``; narrow the capabilities only where the codec really is narrower."""

    codec_name: ClassVar[str] = ""
    #: None: take it from the CodecSpec. Lossy codecs set ``max_abs_error`` (a tolerance per sample).
    lossless: ClassVar[bool | None] = None
    max_abs_error: ClassVar[float] = 0
    #: Capabilities tested (intersected with the CodecSpec's).
    bits_stored: ClassVar[tuple[int, ...]] = (8, 12, 16)
    signed: ClassVar[tuple[bool, ...]] = (False, True)
    samples_per_pixel: ClassVar[tuple[int, ...]] = (1, 3)
    #: Options passed to ``ds.compress`` / ``medcodec.compress``.
    encode_options: ClassVar[Mapping[str, Any]] = {}
    #: Folder with MANIFEST.json and golden frames, or None when the codec has none.
    golden_dir: ClassVar[Path | None] = None
    #: The plugin must come from a distribution's entry point (False only for the core's in-tree tests).
    from_entry_point: ClassVar[bool] = True
    #: Regex a decode failure's message must match (default: the codec's name).
    decode_error_match: ClassVar[str | None] = None
    #: Whether random bytes in place of a frame must raise (a few formats have no redundancy to notice).
    corrupt_raises: ClassVar[bool] = True

    # --- helpers -----------------------------------------------------------------------------------------

    @pytest.fixture
    def spec(self) -> Any:
        import medcodec

        medcodec.install()
        return medcodec.get_codec(self.codec_name)

    def _is_lossless(self, spec: Any) -> bool:
        return spec.lossless if self.lossless is None else self.lossless

    def _require(self, spec: Any, bits: int, signed: bool, samples: int) -> None:
        if samples == 3 and (signed or bits != 8):
            pytest.skip("DICOM colour images are unsigned, and the kit tests them at 8 bits")
        if bits not in self.bits_stored or signed not in self.signed or samples not in self.samples_per_pixel:
            pytest.skip(f"'{self.codec_name}' does not claim BitsStored={bits}, signed={signed}, "
                        f"SamplesPerPixel={samples} in this test class")
        problem = spec.supports(bits_stored=bits, samples_per_pixel=samples, signed=signed)
        if problem:
            pytest.skip(f"'{self.codec_name}': {problem}")

    def _best_case(self, spec: Any) -> tuple[int, bool, int]:
        for bits in sorted(self.bits_stored, reverse=True):
            for signed in self.signed:
                for samples in self.samples_per_pixel:
                    if samples == 3 and (signed or bits != 8):
                        continue
                    if not spec.supports(bits_stored=bits, samples_per_pixel=samples, signed=signed):
                        return bits, signed, samples
        pytest.skip(f"'{self.codec_name}' supports none of the tested image kinds")

    def _check(self, spec: Any, expected: np.ndarray, actual: np.ndarray) -> None:
        assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
        if self._is_lossless(spec):
            np.testing.assert_array_equal(actual, expected)
        else:
            err = np.abs(actual.astype(np.int64) - expected.astype(np.int64)).max(initial=0)
            assert err <= self.max_abs_error, f"max error {err} > tolerance {self.max_abs_error}"

    # --- discovery and the adapter contract --------------------------------------------------------------

    def test_discovery_through_entry_point(self, spec: Any) -> None:
        from medcodec._plugins import codec_index, plugin_records

        owner = codec_index().owner(spec.name)
        record = next(r for r in plugin_records() if r.name == owner)
        assert record.error is None, record.error
        assert _normalise(record.distribution) == _normalise(spec.distribution) or not self.from_entry_point
        if self.from_entry_point:
            names = {ep.name for ep in metadata.entry_points(group="medcodec")}
            assert owner in names, f"plugin '{owner}' is not declared in the 'medcodec' entry-point group"

    def test_adapter_contract(self, spec: Any) -> None:
        if spec.adapter is None:
            pytest.skip(f"'{spec.name}' is coded by pydicom's own plugins")
        module = importlib.import_module(spec.adapter)
        assert module.is_available(spec.transfer_syntax) is True
        if spec.decoder:
            assert spec.transfer_syntax in module.DECODER_DEPENDENCIES
            assert callable(module.decode_frame)
        if spec.encoder:
            assert spec.transfer_syntax in module.ENCODER_DEPENDENCIES
            assert callable(module.encode_frame)

    # --- round trips -------------------------------------------------------------------------------------

    @pytest.mark.parametrize("size", list(SIZES))
    @pytest.mark.parametrize("frames", [1, 3])
    @pytest.mark.parametrize("samples", [1, 3])
    @pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
    @pytest.mark.parametrize("bits", [8, 12, 16])
    def test_round_trip(self, spec: Any, bits: int, signed: bool, samples: int, frames: int, size: str) -> None:
        self._require(spec, bits, signed, samples)
        rows, columns = SIZES[size]
        ds = make_dataset(rows, columns, frames, bits, signed, samples, seed=bits + frames)
        expected = ds.pixel_array.copy()
        ds.compress(str(spec.transfer_syntax), **self.encode_options)  # a plain str, as scripts pass it
        assert ds.file_meta.TransferSyntaxUID == spec.transfer_syntax
        self._check(spec, expected, ds.pixel_array)

    def test_compress_through_medcodec_sets_metadata(self, spec: Any) -> None:
        import medcodec

        bits, signed, samples = self._best_case(spec)
        ds = make_dataset(64, 48, 2, bits, signed, samples, modality="CT")
        old_uid = ds.SOPInstanceUID
        expected = ds.pixel_array.copy()
        report = medcodec.compress(ds, spec.name, options=dict(self.encode_options))
        assert report.verified and report.codec == spec.name
        self._check(spec, expected, ds.pixel_array)
        if report.lossy:
            assert not self._is_lossless(spec)
            assert ds.LossyImageCompression == "01"
            assert float(ds.LossyImageCompressionRatio) == pytest.approx(report.ratio, rel=1e-3)
            assert ds.LossyImageCompressionMethod == spec.lossy_method
            assert ds.SOPInstanceUID != old_uid == report.old_sop_instance_uid
            assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        else:
            assert "LossyImageCompression" not in ds
            assert ds.SOPInstanceUID == old_uid

    def test_save_and_reload_in_fresh_interpreter(self, spec: Any, tmp_path: Path) -> None:
        """An unmodified script in a new process: dcmread, pixel_array(path), iter_pixels(path), decompress()."""
        bits, signed, samples = self._best_case(spec)
        ds = make_dataset(32, 24, 3, bits, signed, samples, seed=7)
        expected = ds.pixel_array.copy()
        ds.compress(spec.transfer_syntax, **self.encode_options)
        path = tmp_path / "image.dcm"
        ds.save_as(path, enforce_file_format=True)
        np.save(tmp_path / "expected.npy", expected)
        script = textwrap.dedent(f"""
            import json, numpy as np, pydicom
            from pydicom.pixels import iter_pixels, pixel_array
            path = {str(path)!r}
            ds = pydicom.dcmread(path)
            a = ds.pixel_array
            b = pixel_array(path)
            c = np.stack(list(iter_pixels(path)))
            ds.decompress()
            d = ds.pixel_array
            np.save({str(tmp_path / 'got.npy')!r}, np.stack([a, b, c, d]))
            print(json.dumps({{"ts": str(pydicom.dcmread(path).file_meta.TransferSyntaxUID),
                               "after": str(ds.file_meta.TransferSyntaxUID)}}))
        """)
        done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        info = json.loads(done.stdout.strip().splitlines()[-1])
        assert info["ts"] == spec.transfer_syntax
        assert info["after"] == "1.2.840.10008.1.2.1"
        for got in np.load(tmp_path / "got.npy"):
            self._check(spec, expected, got)

    # --- bad input ---------------------------------------------------------------------------------------

    def _one_frame(self, spec: Any) -> tuple[Any, bytes]:
        from pydicom.encaps import generate_frames

        bits, signed, samples = self._best_case(spec)
        ds = make_dataset(64, 48, 1, bits, signed, samples, seed=3)
        ds.compress(spec.transfer_syntax, **self.encode_options)
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
        return ds, frame

    def _replace_frame(self, ds: Any, frame: bytes) -> None:
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([frame])
        ds["PixelData"].is_undefined_length = True

    def test_truncated_frame_raises(self, spec: Any) -> None:
        ds, frame = self._one_frame(spec)
        self._replace_frame(ds, frame[: max(len(frame) // 2, 1) & ~1 or 2])
        with pytest.raises(Exception, match=self.decode_error_match or spec.name):
            ds.pixel_array  # noqa: B018

    def test_corrupted_frame_raises(self, spec: Any) -> None:
        if not self.corrupt_raises:
            pytest.skip(f"'{spec.name}' has no redundancy to detect corruption")
        ds, frame = self._one_frame(spec)
        garbage = np.random.default_rng(5).integers(0, 256, len(frame), dtype=np.uint8).tobytes()
        self._replace_frame(ds, garbage)
        with pytest.raises(Exception, match=self.decode_error_match or spec.name):
            ds.pixel_array  # noqa: B018

    def test_unsupported_image_is_refused_clearly(self, spec: Any) -> None:
        import medcodec

        unsupported = [b for b in range(1, 17) if b not in spec.bits_stored and b >= 2]
        if unsupported:
            bits, samples = unsupported[-1], 1
        elif 3 not in spec.samples_per_pixel:
            bits, samples = max(spec.bits_stored), 3
        else:
            pytest.skip(f"'{spec.name}' encodes every BitsStored 1-16 and colour")
        ds = make_dataset(8, 8, 1, max(bits, 2), False, samples)
        with pytest.raises(medcodec.UnsupportedImageError, match=f"codec '{spec.name}'.*cannot encode"):
            medcodec.compress(ds, spec.name, options=dict(self.encode_options))

    # --- golden bitstreams -------------------------------------------------------------------------------

    def test_golden_bitstreams(self, spec: Any, request: pytest.FixtureRequest) -> None:
        from medcodec.testing.golden import MANIFEST, decode_golden, load_manifest, sha256

        if self.golden_dir is None:
            pytest.skip(f"'{spec.name}' has no golden bitstreams")
        directory = Path(self.golden_dir)
        manifest = directory / MANIFEST
        if request.config.getoption("--medcodec-regen-golden", default=False):
            codec, frames = load_manifest(directory)
            entries: list[dict[str, Any]] = []
            data = {"codec": codec, "frames": entries}
            for frame in frames:
                stream = (directory / frame.file).read_bytes()
                entry = dict(frame.__dict__, stream_sha256=sha256(stream),
                             pixels_sha256=sha256(decode_golden(frame, stream, spec.transfer_syntax)))
                entries.append(entry)
            manifest.write_text(json.dumps(data, indent=1) + "\n")
            pytest.fail(f"golden MANIFEST for '{spec.name}' regenerated; review the diff and run again")
        assert manifest.is_file(), f"golden manifest {manifest} is missing"
        codec, frames = load_manifest(directory)
        assert codec == spec.name and frames, f"{manifest} lists no frames for '{spec.name}'"
        for frame in frames:
            path = directory / frame.file
            assert path.is_file(), f"golden file {path} is missing"
            stream = path.read_bytes()
            assert sha256(stream) == frame.stream_sha256, f"golden file {path} changed"
            assert sha256(decode_golden(frame, stream, spec.transfer_syntax)) == frame.pixels_sha256, (
                f"{path} no longer decodes to the recorded pixels")
