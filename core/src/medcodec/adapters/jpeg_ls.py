"""JPEG-LS encoding (CharLS through pyjpegls) that keeps its promises.

Two traps of the plain pyjpegls path are handled here:

* **Near-lossless on signed data wraps.** CharLS codes the stored bit pattern; a reconstruction that crosses
  the sign boundary comes back, after sign extension, with an error of about 2**BitsStored (32766 was measured
  on a signed 15-bit image with NEAR=4, silently, through pydicom's own plugin). Every near-lossless frame is
  decoded again and compared with the source; a frame outside the NEAR bound raises instead of being returned.
* **Tiny frames fail.** pyjpegls sizes its output buffer at twice the input, which is smaller than the JPEG-LS
  headers for frames of a few pixels (1x1 fails with "destination buffer is too small"). Such frames are
  encoded from a zero-padded source buffer (CharLS reads only rows x columns samples of it).

The adapter is wired as the *only* encoder for both JPEG-LS syntaxes, so pydicom's fallback loop cannot
bypass the check; decoding stays with pydicom's own plugins.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

from medcodec.errors import EncodeError

if TYPE_CHECKING:
    from pydicom.pixels.encoders.base import EncodeRunner

JPEGLSLossless = "1.2.840.10008.1.2.4.80"
JPEGLSNearLossless = "1.2.840.10008.1.2.4.81"
_NAMES = {JPEGLSLossless: "jpeg_ls_lossless", JPEGLSNearLossless: "jpeg_ls_near_lossless"}
ENCODER_DEPENDENCIES = {uid: ("numpy", "pyjpegls>=1.3") for uid in _NAMES}
DECODER_DEPENDENCIES: dict[str, tuple[str, ...]] = {}
#: Below this many source bytes the padded path is used (JPEG-LS headers alone are about 40 bytes).
_TINY = 256


def is_available(uid: str) -> bool:
    return uid in _NAMES and find_spec("jpeg_ls") is not None and find_spec("numpy") is not None


def _stored_pattern(src: bytes, bits_stored: int, signed: bool) -> bytes:
    """JPEG-LS codes the low BitsStored bits; sign-extended signed samples would exceed MAXVAL."""
    import numpy as np

    if not signed or bits_stored in (8, 16):
        return src
    values = np.frombuffer(src, dtype=np.uint8 if bits_stored <= 8 else np.dtype("<u2"))
    mask = np.array((1 << bits_stored) - 1, dtype=values.dtype)
    return bytes(np.bitwise_and(values, mask).tobytes())


def _charls_encode(src: bytes, near: int, runner: EncodeRunner) -> bytes:
    import jpeg_ls

    opts = {"rows": runner.rows, "columns": runner.columns, "samples_per_pixel": runner.samples_per_pixel,
            "bits_stored": runner.bits_stored}
    if runner.samples_per_pixel > 1:
        opts["planar_configuration"] = runner.planar_configuration
    if len(src) >= _TINY:
        return bytes(jpeg_ls.encode_pixel_data(src, lossy_error=near, **opts))
    import _CharLS  # pyjpegls's extension: the public wrapper cannot be given a larger output buffer

    interleave = runner.planar_configuration == 0 if runner.samples_per_pixel > 1 else 0
    padded = src + bytes(_TINY)
    return bytes(_CharLS._encode(padded, near, int(interleave), runner.rows, runner.columns,
                                 runner.samples_per_pixel, runner.bits_stored))


def encode_frame(src: bytes, runner: EncodeRunner) -> bytes:
    import jpeg_ls
    import numpy as np

    from medcodec.adapters.frames import runner_kind, samples

    uid = str(runner.transfer_syntax)
    name = _NAMES[uid]
    near = int(runner.get_option("jls_error", 0) or 0)
    if near and uid == JPEGLSLossless:
        raise EncodeError(name, uid, f"jls_error={near} needs 'jpeg_ls_near_lossless', not the lossless syntax")
    bits_stored, signed = runner_kind(runner)
    try:
        codestream = _charls_encode(_stored_pattern(src, bits_stored, signed), near, runner)
    except (RuntimeError, ValueError) as exc:
        raise EncodeError(name, uid, str(exc)) from exc
    if near:
        decoded, _info = jpeg_ls.decode_buffer(codestream)
        error = int(np.abs(samples(src, bits_stored, signed) - samples(decoded, bits_stored, signed))
                    .max(initial=0))
        if error > near:
            why = (" Signed data wraps at the sign boundary in JPEG-LS near-lossless; use 'jpeg_ls_lossless' "
                   "or a codec that supports signed lossy data." if signed else "")
            raise EncodeError(name, uid, f"max error {error} exceeds the requested NEAR={near}.{why}")
    return codestream


def decode_frame(src: bytes, runner: object) -> bytes:  # encode-only adapter (CodecSpec.decoder=False)
    raise NotImplementedError("medcodec's JPEG-LS adapter only encodes")
