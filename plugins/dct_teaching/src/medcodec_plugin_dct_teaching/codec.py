"""The MMPC codec: numpy arrays ↔ MMPC bytes. Pure numpy + standard library (no pydicom).

Encoding pipeline (each stage is its own module, in order)::

    image ─► transform.image_to_blocks ─► transform.forward_dct ─► quantise.quantise
          ─► layout.to_scan_order ─► layout.pack ─► entropy.compress (RLE + zlib/lzma) ─► bitstream header

Decoding runs the same stages backwards, then (v2 only, if flagged) ``deblock.deblock``, rounds, and clips to
the sample range the header declares.

Version choice (``version="auto"``): a stream is written as MMPC **version 1**, byte-identical to the seed's
encoder, whenever version 1 can carry the image without loss of information beyond quantisation, i.e. the
seed pipeline is used, no sample is negative (v1 decoders clip to ``[0, 2^bits - 1]``) and every quantised
coefficient fits int16 (the DC of a bright 16-bit block does not at small steps). Otherwise it is written as
**version 2**, which records signedness and bits stored, widens coefficients to int32 when needed, and can
carry the improved profile's stages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from medcodec_plugin_dct_teaching import entropy, layout
from medcodec_plugin_dct_teaching.bitstream import Flags, Header, MMPCError, sample_range, split_streams
from medcodec_plugin_dct_teaching.deblock import deblock
from medcodec_plugin_dct_teaching.entropy import EntropyCoder
from medcodec_plugin_dct_teaching.quantise import dequantise, quality_to_step, quantise
from medcodec_plugin_dct_teaching.rle import rle_decode
from medcodec_plugin_dct_teaching.transform import (
    BLOCK_SIZE,
    blocks_to_image,
    forward_dct,
    image_to_blocks,
    inverse_dct,
    padded_shape,
)

__all__ = ["IMPROVED", "PROFILES", "SEED", "Decoded", "MMPCError", "Pipeline", "decode", "decode_all",
           "encode", "encode_volume", "reconstruct_float", "stack"]


@dataclass(frozen=True)
class Pipeline:
    """Which optional stages an encoder uses. :data:`SEED` is the seed's pipeline (the only one v1 can hold)."""

    zigzag: bool = False
    dc_prediction: bool = False
    band_planes: bool = False
    rle: bool = True
    entropy: EntropyCoder = EntropyCoder.ZLIB
    deblock: bool = False

    @property
    def flags(self) -> Flags:
        """The v2 header flags for these stages (signedness is added by the encoder)."""
        flags = Flags(0)
        for enabled, flag in ((self.zigzag, Flags.ZIGZAG), (self.dc_prediction, Flags.DC_PREDICTION),
                              (self.band_planes, Flags.BAND_PLANES), (self.rle, Flags.RLE),
                              (self.deblock, Flags.DEBLOCK)):
            if enabled:
                flags |= flag
        return flags

    @classmethod
    def from_header(cls, header: Header) -> Pipeline:
        return cls(zigzag=Flags.ZIGZAG in header.flags, dc_prediction=Flags.DC_PREDICTION in header.flags,
                   band_planes=Flags.BAND_PLANES in header.flags, rle=Flags.RLE in header.flags,
                   entropy=header.entropy_coder, deblock=Flags.DEBLOCK in header.flags)


SEED = Pipeline()
"""Row-major int16 levels → byte RLE → zlib level 6: the seed's pipeline."""

IMPROVED = Pipeline(zigzag=True, dc_prediction=True, band_planes=True, rle=False, entropy=EntropyCoder.LZMA,
                    deblock=True)
"""The "future work" profile: zig-zag, DC prediction, band planes, LZMA's context-modelling range coder instead
of RLE + zlib, and the deblocking filter. ``medcodec mmpc rd`` measures each step on its own."""

PROFILES: dict[str, Pipeline] = {"seed": SEED, "improved": IMPROVED}


@dataclass(frozen=True)
class Decoded:
    """One decoded stream: the pixels and the header they came with."""

    pixels: npt.NDArray[np.integer]
    header: Header


def _sample_format(image: npt.NDArray[np.integer], bits_allocated: int | None, bits_stored: int | None,
                   signed: bool | None) -> tuple[int, int, bool]:
    """Fill in and check bit depth, bits stored and signedness for ``image``."""
    if image.ndim != 2:
        raise MMPCError(f"MMPC encodes one 2-D image per stream, got an array of shape {image.shape}")
    if not np.issubdtype(image.dtype, np.integer):
        raise MMPCError(f"MMPC encodes integer samples, got dtype {image.dtype}")
    if image.size == 0:
        raise MMPCError(f"cannot encode an empty image (shape {image.shape})")
    if bits_allocated is None:
        if image.dtype.itemsize > 2:
            raise MMPCError(f"unsupported bit depth: MMPC stores 8- or 16-bit samples, got {image.dtype} "
                            f"({8 * image.dtype.itemsize} bits); pass bits_allocated=16 if the values fit")
        bits_allocated = 8 * image.dtype.itemsize
    if bits_allocated not in (8, 16):
        raise MMPCError(f"unsupported bit depth: MMPC stores 8- or 16-bit samples, got {bits_allocated} bits")
    bits_stored = bits_allocated if bits_stored is None else bits_stored
    if not 1 <= bits_stored <= bits_allocated:
        raise MMPCError(f"bits stored ({bits_stored}) must be between 1 and the bit depth ({bits_allocated})")
    signed = bool(np.issubdtype(image.dtype, np.signedinteger)) if signed is None else signed
    low, high = sample_range(bits_stored, signed)
    found_low, found_high = int(image.min()), int(image.max())
    if found_low < low or found_high > high:
        kind = "signed" if signed else "unsigned"
        raise MMPCError(f"sample values {found_low}..{found_high} do not fit {bits_stored}-bit {kind} samples "
                        f"({low}..{high})")
    if image.shape[0] > 0xFFFF or image.shape[1] > 0xFFFF:
        raise MMPCError(f"image of {image.shape[1]}x{image.shape[0]} is too large: MMPC stores 16-bit sizes")
    return bits_allocated, bits_stored, signed


def encode(image: npt.ArrayLike, quality: int, *, bits_allocated: int | None = None,
           bits_stored: int | None = None, signed: bool | None = None, pipeline: Pipeline = SEED,
           version: Literal["auto", 1, 2] = "auto") -> bytes:
    """Encode one 2-D integer image as one MMPC stream.

    :param quality: the seed's "quality", which *is* the quantisation step (higher = smaller, coarser).
    :param bits_allocated: 8 or 16 (default from the dtype); v1 headers store it as the bit depth.
    :param bits_stored: significant bits (default ``bits_allocated``); v2 clips reconstructions to them.
    :param signed: two's complement samples (default from the dtype).
    :param pipeline: :data:`SEED` or :data:`IMPROVED` (or any mix of stages; only SEED fits version 1).
    :param version: ``"auto"`` (v1 when lossless-of-range, else v2), or force 1 or 2. Forcing 1 for an image
        v1 would damage raises :class:`MMPCError` instead of writing a lossy-beyond-quantisation stream.
    """
    if version not in ("auto", 1, 2):
        raise MMPCError(f"unknown MMPC version {version!r} (use 'auto', 1 or 2)")
    pixels = np.asarray(image)
    bits_allocated, bits_stored, signed = _sample_format(pixels, bits_allocated, bits_stored, signed)
    step = quality_to_step(quality)
    height, width = pixels.shape
    levels = quantise(forward_dct(image_to_blocks(pixels)), step).reshape(-1, BLOCK_SIZE * BLOCK_SIZE)

    v1_obstacles = []
    if pipeline != SEED:
        v1_obstacles.append("the improved stages need version 2")
    if signed and int(pixels.min()) < 0:
        v1_obstacles.append("negative samples would be clipped to 0 by a version 1 decoder")
    if not layout.fits(levels, 2):
        v1_obstacles.append(f"quantised coefficients {int(levels.min())}..{int(levels.max())} overflow int16 "
                            f"(a bright block's DC at step {step})")
    if version == 1 and v1_obstacles:
        raise MMPCError("cannot write MMPC version 1 without losing data: " + "; ".join(v1_obstacles))
    chosen = 1 if version == 1 or (version == "auto" and not v1_obstacles) else 2

    coefficient_bytes = 2 if layout.fits(levels, 2) else 4
    scanned = layout.to_scan_order(levels, zigzag=pipeline.zigzag, dc_prediction=pipeline.dc_prediction)
    if not layout.fits(scanned, coefficient_bytes):  # DC differences can be twice as large as the DCs
        coefficient_bytes = 4
    raw = layout.pack(scanned, coefficient_bytes=coefficient_bytes, band_planes=pipeline.band_planes)
    payload = entropy.compress(raw, coder=pipeline.entropy, use_rle=pipeline.rle)
    flags = pipeline.flags | (Flags.SIGNED if signed else Flags(0))
    header = Header(chosen, width, height, bits_allocated, BLOCK_SIZE, step, len(payload),
                    bits_stored=bits_allocated if chosen == 1 else bits_stored,
                    flags=Flags.RLE if chosen == 1 else flags, coefficient_bytes=coefficient_bytes)
    if chosen == 2:
        header = replace(header, entropy_coder=pipeline.entropy)
    return header.pack() + payload


def encode_volume(slices: Iterable[npt.ArrayLike], quality: int, **options: object) -> bytes:
    """Encode each slice as its own stream and concatenate them (the multi-slice ``.mmpc`` file)."""
    streams = [encode(slice_, quality, **options) for slice_ in slices]  # type: ignore[arg-type]
    if not streams:
        raise MMPCError("no slices to encode")
    return b"".join(streams)


def _levels_bytes(header: Header, payload: bytes) -> bytes:
    """Entropy-decode a payload to the packed coefficient bytes, checking the length the header implies."""
    padded_h, padded_w = padded_shape(header.height, header.width, header.block_size)
    expected = padded_h * padded_w * header.coefficient_bytes
    pipeline = Pipeline.from_header(header)
    limit = 2 * expected if pipeline.rle else expected  # RLE at worst doubles the bytes
    try:
        staged = entropy.decompress(payload, coder=header.entropy_coder, max_length=limit)
    except ValueError as exc:
        raise MMPCError(f"corrupt MMPC payload: {exc}") from exc
    if len(staged) > limit:
        raise MMPCError(f"MMPC payload length mismatch: the payload expands beyond {limit} bytes, a "
                        f"{header.width}x{header.height} image needs {expected} coefficient bytes")
    if pipeline.rle:
        expanded = rle_decode(staged) if len(staged) % 2 == 0 else b""
        if len(expanded) == expected:
            return expanded
        if header.version == 1 and len(staged) == expected:
            # The seed's documented fallback: a v1 payload may hold the raw int16 bytes without RLE.
            return staged
        raise MMPCError(f"MMPC payload length mismatch: the coefficients take {len(expanded)} bytes after RLE "
                        f"({len(staged)} before), a {header.width}x{header.height} image needs {expected}")
    if len(staged) != expected:
        raise MMPCError(f"MMPC payload length mismatch: {len(staged)} coefficient bytes, a "
                        f"{header.width}x{header.height} image needs {expected}")
    return staged


def reconstruct_float(header: Header, payload: bytes) -> npt.NDArray[np.float64]:
    """Decode a stream up to the float reconstruction (after deblocking, before rounding and clipping)."""
    pipeline = Pipeline.from_header(header)
    block = header.block_size
    padded_h, padded_w = padded_shape(header.height, header.width, block)
    n_blocks = padded_h * padded_w // (block * block)
    scanned = layout.unpack(_levels_bytes(header, payload), n_blocks=n_blocks, block=block,
                            coefficient_bytes=header.coefficient_bytes, band_planes=pipeline.band_planes)
    levels = layout.from_scan_order(scanned, zigzag=pipeline.zigzag, dc_prediction=pipeline.dc_prediction)
    blocks = inverse_dct(dequantise(levels, header.quant_step).reshape(-1, block, block))
    image = blocks_to_image(blocks, header.height, header.width)
    return deblock(image, header.quant_step, block) if pipeline.deblock else image


def _output_dtype(header: Header) -> np.dtype[np.integer]:
    """v1: the seed's uint8/uint16 by bit depth; v2 adds the signed types."""
    size = 8 if header.bit_depth <= 8 else 16
    return np.dtype(f"int{size}" if header.signed else f"uint{size}")


def _decode_one(header: Header, payload: bytes) -> Decoded:
    low, high = header.sample_range
    pixels = np.clip(np.round(reconstruct_float(header, payload)), low, high).astype(_output_dtype(header))
    return Decoded(pixels, header)


def decode_all(data: bytes) -> list[Decoded]:
    """Decode every stream of an MMPC file (one per slice)."""
    return [_decode_one(header, payload) for header, payload in split_streams(data)]


def decode(data: bytes) -> Decoded:
    """Decode a single-stream MMPC file; raise :class:`MMPCError` if it holds several streams."""
    decoded = decode_all(data)
    if len(decoded) != 1:
        raise MMPCError(f"expected one MMPC stream, found {len(decoded)} (use decode_all for volumes)")
    return decoded[0]


def stack(decoded: Sequence[Decoded]) -> npt.NDArray[np.integer]:
    """Stack decoded slices into a ``(slices, rows, columns)`` volume; they must share size and type."""
    shapes = {d.pixels.shape for d in decoded}
    dtypes = {d.pixels.dtype for d in decoded}
    if len(shapes) > 1 or len(dtypes) > 1:
        raise MMPCError(f"slices differ in size or type ({sorted(shapes)}, {sorted(map(str, dtypes))}); "
                        "cannot stack them into one volume")
    return np.stack([d.pixels for d in decoded])
