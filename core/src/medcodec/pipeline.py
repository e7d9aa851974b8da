"""Compress one dataset: policy -> encode (through pydicom) -> verify -> metadata -> outcome record.

``compress`` is what the CLI, the gateway and users call. It changes ``ds`` only when every step succeeded:
on any failure the dataset is put back exactly as it was and the error is raised (nothing is ever reported as
compressed unless it was verified).

Concurrency: use processes, not threads, to compress several datasets at once. Some backends pydicom uses are
not thread-safe (two threads in pylibjpeg-openjpeg crash the interpreter); the CLI's workers and the gateway's
codec pool are processes. Within one dataset, ``jobs`` threads are used only for adapters declared
``thread_safe``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from medcodec import _plugins
from medcodec.errors import (
    CodecUnavailableError,
    EncodeError,
    MedcodecError,
    PolicyRefusedError,
    UnsupportedImageError,
    VerificationError,
)
from medcodec.frames import decode_frames, encode_frames
from medcodec.registry import CodecChoice, CodecSpec, CompressionRequest, EncodeReport, Refusal
from medcodec.verify import compare

if TYPE_CHECKING:
    from pydicom import Dataset

#: Elements ``Dataset.compress`` and the metadata hook may change; restored on failure.
_TOUCHED = (
    "PixelData", "SOPInstanceUID", "PhotometricInterpretation", "PlanarConfiguration", "NumberOfFrames",
    "ExtendedOffsetTable", "ExtendedOffsetTableLengths", "LossyImageCompression",
    "LossyImageCompressionRatio", "LossyImageCompressionMethod", "BitsAllocated",
)
_TOUCHED_META = ("TransferSyntaxUID", "MediaStorageSOPInstanceUID")

#: Encoding options that promise a maximum absolute error.
ERROR_BOUND_OPTIONS = ("jls_error", "htj2k_max_error", "max_abs_error")


class _Undo:
    """Remember the elements compression may change, and put them back on failure."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self.saved = {kw: copy.copy(ds[kw]) if kw in ds else None for kw in _TOUCHED}
        meta = ds.get("file_meta")
        self.saved_meta = {kw: copy.copy(meta[kw]) if meta is not None and kw in meta else None
                           for kw in _TOUCHED_META}
        self.had_meta = meta is not None
        self.encoding = (ds.original_encoding, ds.original_character_set)

    def __call__(self) -> None:
        ds = self.ds
        (implicit_vr, little_endian), charset = self.encoding
        ds.set_original_encoding(implicit_vr, little_endian, charset)
        for kw, elem in self.saved.items():
            if elem is None:
                if kw in ds:
                    del ds[kw]
            else:
                ds[kw] = elem
        if self.had_meta:
            for kw, elem in self.saved_meta.items():
                if elem is None:
                    if kw in ds.file_meta:
                        del ds.file_meta[kw]
                else:
                    ds.file_meta[kw] = elem
        elif "file_meta" in ds.__dict__:
            del ds.file_meta


def uncompressed_size(ds: Dataset) -> int:
    """Bytes of the native pixel data: the numerator of the DICOM compression ratio (0028,2112)."""
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    bits = int(ds.BitsAllocated)
    samples = int(ds.get("SamplesPerPixel", 1))
    meta = ds.get("file_meta")
    native = meta is None or "TransferSyntaxUID" not in meta or not meta.TransferSyntaxUID.is_compressed
    if native and str(ds.get("PhotometricInterpretation", "")) == "YBR_FULL_422":
        samples = 2  # each pair of pixels shares its two chroma samples: 2 values per pixel, not 3
    pixels = int(ds.Rows) * int(ds.Columns) * samples * frames
    return (pixels * bits + 7) // 8


def decode_source(ds: Dataset) -> np.ndarray:
    """Decode a compressed source in place, once, and return its stored pixel values.

    pydicom's default decode converts YBR to RGB, a rounding step that a "lossless" result would silently
    include (up to 160 on YBR_FULL-RLE.dcm); a decoded YBR_FULL_422 frame is full resolution, so it is
    labelled YBR_FULL.
    """
    meta = ds.get("file_meta")
    if meta is not None and "TransferSyntaxUID" in meta and meta.TransferSyntaxUID.is_compressed:
        ds.decompress(generate_instance_uid=False, as_rgb=False)
        if str(ds.get("PhotometricInterpretation", "")) == "YBR_FULL_422":
            ds.PhotometricInterpretation = "YBR_FULL"
    return stored_pixels(ds)


def stored_pixels(ds: Dataset) -> np.ndarray:
    """The pixel values as stored (no YBR->RGB conversion): what a lossless codec must reproduce exactly."""
    ds.pixel_array_options(as_rgb=False)
    try:
        return ds.pixel_array
    finally:
        ds.pixel_array_options()  # back to pydicom's defaults for the caller


def _pixel_bytes(ds: Dataset) -> int:
    return len(ds.PixelData)


def promised_max_error(options: Mapping[str, Any], request: CompressionRequest) -> float | None:
    bounds = [float(options[k]) for k in ERROR_BOUND_OPTIONS if options.get(k) is not None]
    if request.max_abs_error is not None:
        bounds.append(float(request.max_abs_error))
    return min(bounds) if bounds else None


def choose(ds: Dataset, request: CompressionRequest) -> tuple[CodecSpec, CodecChoice]:
    """Run the policy hooks; raise :class:`PolicyRefusedError` on a refusal."""
    decision = _plugins.select_codec(ds, request)
    if decision is None:
        raise PolicyRefusedError("no-policy", "no policy chose a codec", request.source)
    if isinstance(decision, Refusal):
        raise PolicyRefusedError(decision.rule, decision.reason, request.source)
    return _plugins.codec_index().get(decision.codec), decision


def _check_can_encode(spec: CodecSpec, ds: Dataset, source: str | None) -> None:
    from medcodec import _pydicom
    from medcodec.registry import image_kind

    problem = spec.supports(**image_kind(ds))
    if problem:
        raise UnsupportedImageError(spec.name, spec.transfer_syntax, problem, source)
    if _pydicom.is_placeholder(spec.label) or not _pydicom.coder_status(spec)[0]:
        raise CodecUnavailableError(spec.name, spec.transfer_syntax, spec.distribution)


def compress(
    ds: Dataset,
    codec: str | None = None,
    *,
    profile: str = "diagnostic",
    options: Mapping[str, Any] | None = None,
    request: CompressionRequest | None = None,
    verify: bool = True,
    jobs: int = 0,
) -> EncodeReport:
    """Compress ``ds`` in place with the codec the policy chooses (or ``codec``), verify it, and mark it.

    :param codec: a codec name (``medcodec plugins`` lists them) or transfer syntax UID; None lets the policy
        choose from ``profile``.
    :param options: encoding options forwarded to the codec (e.g. ``{"quality": 30}``).
    :param request: a full :class:`CompressionRequest` (overrides ``codec``, ``profile`` and ``options``).
    :param verify: decode the result and compare it with the original (always on in the CLI and gateway).
    :param jobs: threads for the frames of a multi-frame dataset (0: every core; 1: pydicom's serial path).
    :raises PolicyRefusedError: the policy refused (e.g. lossy mammography).
    :raises UnsupportedImageError, CodecUnavailableError, EncodeError, VerificationError: see their docs.
    """
    from medcodec._plugins import install

    install()
    if request is None:
        request = CompressionRequest(codec=codec, profile=profile, options=dict(options or {}))
    started = time.perf_counter()
    source_ts = str(ds.file_meta.TransferSyntaxUID) if "file_meta" in ds.__dict__ and \
        "TransferSyntaxUID" in ds.file_meta else ""
    old_uid = str(ds.get("SOPInstanceUID", "")) or None
    spec: CodecSpec | None = None
    undo = _Undo(ds)
    try:
        if request.codec:  # an explicit codec that cannot take this image is the caller's error, not policy
            spec = _plugins.codec_index().get(request.codec)
            _check_can_encode(spec, ds, request.source)
        spec, choice = choose(ds, request)
        _check_can_encode(spec, ds, request.source)
        report = _encode_and_verify(ds, spec, choice, request, verify, source_ts, old_uid, jobs)
        _plugins.update_metadata(ds, spec, report)
    except BaseException as exc:
        undo()
        _plugins.record_outcome(audit_record(
            outcome="refused" if isinstance(exc, PolicyRefusedError) else "failed",
            codec=spec.name if spec else request.codec, source_ts=source_ts, old_uid=old_uid,
            error=str(exc), milliseconds=(time.perf_counter() - started) * 1000))
        raise
    report.milliseconds = (time.perf_counter() - started) * 1000
    _plugins.record_outcome(audit_record(outcome="compressed", report=report, spec=spec))
    return report


def _encode_and_verify(
    ds: Dataset,
    spec: CodecSpec,
    choice: CodecChoice,
    request: CompressionRequest,
    verify: bool,
    source_ts: str,
    old_uid: str | None,
    jobs: int = 0,
) -> EncodeReport:
    from pydicom.uid import generate_uid

    from medcodec._pydicom import transfer_syntax

    uid = transfer_syntax(spec.transfer_syntax)
    # Encode from the decoded array rather than letting pydicom slice frames from PixelData: pydicom 3.0
    # mis-reads odd-length big-endian colour frames (max error 158 measured on SC_rgb_small_odd_big_endian).
    original = decode_source(ds).copy()
    native_bytes = uncompressed_size(ds)
    # A codec's defaults apply only when nothing was asked for: merging them could combine, say, a default
    # PSNR target with a requested ratio, which JPEG 2000 rejects.
    options = dict(choice.options) or dict(spec.default_options)
    # Pin our adapter only where it is the primary coder; a fallback adapter (JPEG 2000's small-frame
    # encoder) must leave pydicom free to use its own plugin first.
    primary = spec.adapter is not None and (spec.is_private or spec.prefer or spec.exclusive_encoder)
    plugin = spec.label if primary else ""
    if not (primary and spec.thread_safe):
        jobs = 1  # only our own thread-safe adapters may code frames concurrently
    if int(ds.get("SamplesPerPixel", 1)) > 1:
        ds.PlanarConfiguration = 0  # pixel_array (the source we pass) is always colour-by-pixel
        if spec.colour_photometric and ds.PhotometricInterpretation == "RGB":
            # e.g. JPEG 2000: DICOM wants YBR_RCT/YBR_ICT, and the codec then applies its colour transform
            # (half the size on US1_UNCR); decoders return RGB again.
            ds.PhotometricInterpretation = spec.colour_photometric
    try:
        encode_frames(ds, uid, original, encoding_plugin=plugin, jobs=jobs, **options)
    except (ValueError, RuntimeError) as exc:  # pydicom's profile checks and its plugin-failure summary
        raise EncodeError(spec.name, spec.transfer_syntax, str(exc), source=request.source) from exc
    if ds.original_encoding[1] is False:
        # Encapsulated syntaxes are explicit VR little endian, but save_as refuses to convert a dataset read
        # as big endian. Parse every raw element first (their bytes are big endian), then re-label.
        for _element in ds.iterall():
            pass
        ds.set_original_encoding(False, True, ds.original_character_set)
    compressed = _pixel_bytes(ds)

    report = EncodeReport(
        codec=spec.name, transfer_syntax=spec.transfer_syntax, source_transfer_syntax=source_ts,
        original_bytes=native_bytes, compressed_bytes=compressed, lossy=not spec.lossless,
        old_sop_instance_uid=old_uid, new_sop_instance_uid=old_uid, rule=choice.rule, options=options,
    )
    if original is not None:
        from medcodec.policy import with_thresholds

        request = with_thresholds(request, spec)  # a lossy profile's PSNR/SSIM/max-error floor
        _verify(ds, spec, original, report, promised_max_error(options, request), request, jobs)
    if report.lossy:
        new_uid = generate_uid()
        ds.SOPInstanceUID = new_uid
        if "file_meta" in ds.__dict__:
            ds.file_meta.MediaStorageSOPInstanceUID = new_uid
        report.new_sop_instance_uid = new_uid
    return report


def _verify(
    ds: Dataset,
    spec: CodecSpec,
    original: np.ndarray,
    report: EncodeReport,
    bound: float | None,
    request: CompressionRequest,
    jobs: int = 0,
) -> None:
    try:
        decoded = decode_frames(ds, jobs=jobs, as_rgb=False,
                                decoding_plugin=spec.label if jobs != 1 and spec.decoder else "")
    except Exception as exc:  # any decoder failure is a verification failure
        raise VerificationError(spec.name, spec.transfer_syntax, f"the result does not decode: {exc}",
                                request.source) from exc
    result = compare(original, decoded)
    report.verified = True
    report.max_abs_error = result.max_abs_error
    report.psnr = result.psnr
    report.ssim = result.ssim
    if spec.lossless and not result.identical:
        raise VerificationError(spec.name, spec.transfer_syntax,
                                f"lossless codec is not bit-exact (max error {result.max_abs_error:g})",
                                request.source)
    # A syntax that may be lossy (J2K .91, HTJ2K .203) used reversibly did not lose anything.
    report.lossy = not result.identical
    if bound is not None and result.max_abs_error > bound:
        raise VerificationError(spec.name, spec.transfer_syntax,
                                f"max error {result.max_abs_error:g} exceeds the promised bound {bound:g}",
                                request.source)
    if request.min_psnr is not None and result.psnr is not None and result.psnr < request.min_psnr:
        raise VerificationError(spec.name, spec.transfer_syntax,
                                f"PSNR {result.psnr:.2f} dB is below the required {request.min_psnr:g} dB",
                                request.source)
    if request.min_ssim is not None and result.ssim is not None and result.ssim < request.min_ssim:
        raise VerificationError(spec.name, spec.transfer_syntax,
                                f"SSIM {result.ssim:.4f} is below the required {request.min_ssim:g}",
                                request.source)


def audit_record(
    *,
    outcome: str,
    report: EncodeReport | None = None,
    spec: CodecSpec | None = None,
    codec: str | None = None,
    source_ts: str = "",
    old_uid: str | None = None,
    error: str | None = None,
    milliseconds: float | None = None,
) -> dict[str, Any]:
    """One audit line: UIDs, syntaxes, sizes, errors and timings only -- never names or other patient data."""
    from medcodec import __version__

    record: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "outcome": outcome,
        "medcodec_version": __version__,
    }
    if report is not None:
        record.update(
            codec=report.codec,
            codec_distribution=spec.distribution if spec else None,
            codec_version=_plugins.distribution_versions().get(spec.distribution) if spec else None,
            source_transfer_syntax=report.source_transfer_syntax,
            target_transfer_syntax=report.transfer_syntax,
            original_bytes=report.original_bytes,
            compressed_bytes=report.compressed_bytes,
            ratio=round(report.ratio, 4),
            lossy=report.lossy,
            max_abs_error=report.max_abs_error,
            psnr=None if report.psnr is None else round(report.psnr, 3),
            verified=report.verified,
            milliseconds=round(report.milliseconds, 2),
            old_sop_instance_uid=report.old_sop_instance_uid,
            new_sop_instance_uid=report.new_sop_instance_uid,
            rule=report.rule,
        )
    else:
        record.update(codec=codec, source_transfer_syntax=source_ts, old_sop_instance_uid=old_uid,
                      error=error, milliseconds=None if milliseconds is None else round(milliseconds, 2))
    return record


__all__ = ["MedcodecError", "audit_record", "choose", "compress", "uncompressed_size"]
