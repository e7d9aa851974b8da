"""medcodec hook implementations: the entry point ``dct_teaching`` of the ``medcodec`` group points here.

Only the standard library and ``medcodec`` are imported at module level: medcodec loads this module for every
pydicom user at start-up, so it must stay cheap. The codec (numpy) and the command line (click, matplotlib)
are imported inside the functions that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import medcodec

if TYPE_CHECKING:
    import click

DCTTeaching = f"{medcodec.MEDCODEC_UID_ROOT}.1.3"
"""Private lossy transfer syntax: one MMPC stream per frame (keyword ``DCTTeaching``)."""

CODEC_NAME = "dct_teaching"
LOSSY_METHOD = "MEDCODEC_MMPC"
"""(0028,2114) value written after an encode: medcodec's private prefix + the bitstream's name."""

DEFAULT_QUALITY = 30
"""The seed encoder's default quality (quantisation step 30), also the default of ``medcodec mmpc encode``."""

SPEC = medcodec.CodecSpec(
    name=CODEC_NAME,
    transfer_syntax=DCTTeaching,
    lossless=False,
    adapter="medcodec_plugin_dct_teaching.adapter",
    distribution="medcodec-plugin-dct-teaching",
    description="Teaching codec: 8x8 block DCT, uniform quantisation, RLE + zlib (MMPC bitstream, v1/v2)",
    bits_stored=tuple(range(1, 17)),
    samples_per_pixel=(1,),
    signed=True,
    lossy_method=LOSSY_METHOD,
    keyword="DCTTeaching",
    uid_name="DCT Teaching (medcodec private, lossy)",
    options={
        "quality": "quantisation step 1-65535; higher = smaller file, larger error (the seed's 'quality')",
        "profile": "'seed' (MMPC v1 whenever lossless-of-range) or 'improved' (zig-zag, DC prediction, "
                   "band planes, LZMA, deblocking; MMPC v2)",
    },
    default_options={"quality": DEFAULT_QUALITY, "profile": "seed"},
)


@medcodec.hookimpl
def medcodec_register_codecs(register: medcodec.Register) -> None:
    register(SPEC)


@medcodec.hookimpl
def medcodec_register_commands(cli: click.Group) -> None:
    from medcodec_plugin_dct_teaching.cli import mmpc  # lazy: click commands import numpy, PIL, pydicom

    cli.add_command(mmpc, "mmpc")
