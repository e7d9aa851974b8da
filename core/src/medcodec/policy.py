"""Built-in compression policy (``trylast``): which codec for which image, and what is never allowed.

Rules, in the order they are checked:

1. ``explicit``: a request naming a codec gets that codec, if it exists and can encode the image.
2. ``mammography-lossless-only``: a lossy codec or profile for Modality MG is refused (regulatory rule).
3. ``no-lossy-on-lossy``: a lossy encode of data already marked lossy (0028,2110 = "01") is refused unless the
   request sets ``allow_lossy_recompression``.
4. ``peer-accepts``: when the receiving side's accepted syntaxes are known, only those are chosen.
5. ``profile:<profile>/<modality>``: the first available codec of the profile's preference list that can encode
   the image (defaults from the design document, section 4.4).

A plugin or site policy implements ``medcodec_select_codec`` without ``trylast`` to decide before this one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from medcodec._hookimpl import hookimpl
from medcodec.registry import CodecChoice, CodecSpec, CompressionRequest, Refusal

if TYPE_CHECKING:
    from pydicom import Dataset

#: profile -> modality ("*" = any other) -> codec names in order of preference, with their options.
DEFAULT_PROFILES: Mapping[str, Mapping[str, Sequence[tuple[str, Mapping[str, Any]]]]] = {
    "diagnostic": {
        "MG": [("jpeg2000_lossless", {}), ("jpeg_ls_lossless", {})],
        "NM": [("jpeg_ls_lossless", {}), ("jpeg2000_lossless", {})],
        "*": [
            ("htj2k_lossless_rpcl", {}),
            ("jpeg_ls_lossless", {}),
            ("jpeg2000_lossless", {}),
            ("rle_lossless", {}),
        ],
    },
    "viewing": {
        "*": [("htj2k", {"htj2k_psnr": 55.0}), ("jpeg2000", {"j2k_psnr": [55.0]})],
    },
    "thumbnail": {
        "*": [("htj2k", {"htj2k_psnr": 40.0}), ("jpeg2000", {"j2k_cr": [40]})],
    },
}
LOSSLESS_PROFILES = frozenset({"diagnostic"})


def image_kind(ds: Dataset) -> dict[str, Any]:
    return {
        "bits_stored": int(ds.get("BitsStored", 8)),
        "samples_per_pixel": int(ds.get("SamplesPerPixel", 1)),
        "signed": int(ds.get("PixelRepresentation", 0)) == 1,
    }


def _modality(ds: Dataset) -> str:
    return str(ds.get("Modality", "") or "").upper()


def _already_lossy(ds: Dataset) -> bool:
    return str(ds.get("LossyImageCompression", "") or "") == "01"


def _usable(spec: CodecSpec, ds: Dataset, request: CompressionRequest) -> str | None:
    """None when ``spec`` may encode ``ds`` for this request, else why not."""
    from medcodec._pydicom import coder_status

    if request.accepted_transfer_syntaxes is not None and spec.transfer_syntax not in request.accepted_transfer_syntaxes:
        return "the receiving side does not accept its transfer syntax"
    problem = spec.supports(**image_kind(ds))
    if problem:
        return problem
    available, missing = coder_status(spec)
    if not available:
        return f"it is not available ({', '.join(missing)})"
    return None


@hookimpl(trylast=True)
def medcodec_select_codec(ds: Dataset, request: CompressionRequest) -> CodecChoice | Refusal | None:
    from medcodec._plugins import codec_index

    index = codec_index()
    modality = _modality(ds)
    if request.codec:
        spec = index.get(request.codec)  # UnknownCodecError lists the names
        candidates = [(spec, dict(request.options), "explicit")]
        lossy_requested = not spec.lossless
    else:
        profiles = DEFAULT_PROFILES.get(request.profile)
        if profiles is None:
            return Refusal("unknown-profile", f"unknown profile '{request.profile}' "
                           f"(known: {', '.join(sorted(DEFAULT_PROFILES))})")
        chain = profiles.get(modality, profiles["*"])
        rule = f"profile:{request.profile}/{modality if modality in profiles else '*'}"
        candidates = [
            (index.find_by_name(name), {**opts, **request.options}, rule)
            for name, opts in chain if index.find_by_name(name) is not None
        ]
        lossy_requested = request.profile not in LOSSLESS_PROFILES

    if lossy_requested and modality == "MG":
        return Refusal("mammography-lossless-only",
                       "mammography (Modality MG) may only be compressed losslessly")
    if lossy_requested and _already_lossy(ds) and not request.allow_lossy_recompression:
        return Refusal("no-lossy-on-lossy",
                       "the image is already lossy compressed (0028,2110 = 01); a second lossy step is "
                       "refused unless allow_lossy_recompression is set")

    reasons = []
    for spec, options, rule in candidates:
        problem = _usable(spec, ds, request)
        if problem is None:
            return CodecChoice(spec.name, options, rule, spec.description)
        reasons.append(f"'{spec.name}': {problem}")
    if request.codec:
        return Refusal("explicit", reasons[0])
    return Refusal("no-usable-codec", "no codec of the profile can encode this image: " + "; ".join(reasons))
