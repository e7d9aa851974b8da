"""medcodec hook implementations: the entry point ``htj2k`` of the ``medcodec`` group points here.

Only the standard library and ``medcodec`` are imported at module level: medcodec loads this module for every
pydicom user at start-up, so it must stay cheap. imagecodecs and numpy are imported by the adapter, lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import medcodec

if TYPE_CHECKING:
    import click

HTJ2KLossless = "1.2.840.10008.1.2.4.201"
HTJ2KLosslessRPCL = "1.2.840.10008.1.2.4.202"
HTJ2K = "1.2.840.10008.1.2.4.203"

DISTRIBUTION = "medcodec-plugin-htj2k"
ADAPTER = "medcodec_plugin_htj2k.adapter"
LOSSY_METHOD = "ISO_15444_15"
"""(0028,2114) for a lossy HTJ2K encode (PS3.3 C.7.6.1.1.5.1)."""

#: Every BitsStored OpenJPH and OpenJPEG both handle: samples travel in 8- or 16-bit containers (17-32 bit
#: OpenJPH codestreams are not readable by OpenJPEG 2.5, so the second implementation could not check them).
BITS_STORED = tuple(range(1, 17))

ENCODE_OPTIONS = {
    "htj2k_decompositions": "wavelet decomposition levels (default: at least 5, and enough for a lowest "
                            "resolution of at most 64 pixels)",
}
LOSSY_OPTIONS = {
    "htj2k_max_error": "target maximum absolute error per sample (stored units); searched, never exceeded",
    "htj2k_psnr": "target PSNR in dB (peak = the frame's dynamic range); searched, never undershot",
    "htj2k_ratio": "target compression ratio against the native frame size (BitsAllocated); searched",
    "htj2k_qstep": "absolute quantisation step in stored units (no search)",
    "htj2k_reversible": "True: reversible 5-3 wavelet, lossless (the default when no target is given)",
}

_COMMON: dict[str, Any] = {
    "adapter": ADAPTER,
    "distribution": DISTRIBUTION,
    "bits_stored": BITS_STORED,
    "samples_per_pixel": (1, 3),
    "signed": True,
    "prefer": True,  # OpenJPH decodes HT about twice as fast as OpenJPEG, pydicom's default
}

SPECS = (
    medcodec.CodecSpec(
        name="htj2k_lossless", transfer_syntax=HTJ2KLossless, lossless=True,
        description="HTJ2K lossless (ISO 15444-15, reversible 5-3), OpenJPH via imagecodecs",
        options=ENCODE_OPTIONS, **_COMMON,
    ),
    medcodec.CodecSpec(
        name="htj2k_lossless_rpcl", transfer_syntax=HTJ2KLosslessRPCL, lossless=True,
        description="HTJ2K lossless with RPCL progression and TLM (streamable), OpenJPH via imagecodecs",
        options=ENCODE_OPTIONS, **_COMMON,
    ),
    medcodec.CodecSpec(
        name="htj2k", transfer_syntax=HTJ2K, lossless=False, lossy_method=LOSSY_METHOD,
        description="HTJ2K lossy or lossless (irreversible 9-7 with a quality or ratio target), OpenJPH",
        options={**ENCODE_OPTIONS, **LOSSY_OPTIONS}, **_COMMON,
    ),
)


@medcodec.hookimpl
def medcodec_register_codecs(register: medcodec.Register) -> None:
    for spec in SPECS:
        register(spec)


@medcodec.hookimpl
def medcodec_register_commands(cli: click.Group) -> None:
    from medcodec_plugin_htj2k.cli import htj2k  # lazy: click commands import pydicom and imagecodecs

    cli.add_command(htj2k, "htj2k")
