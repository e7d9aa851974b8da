"""Entry point of the MIC plugin: declares the codec. Standard library and medcodec imports only."""

from __future__ import annotations

import medcodec

CODEC_NAME = "mic"
MICLossless = f"{medcodec.MEDCODEC_UID_ROOT}.1.1"
"""Private transfer syntax "MIC Lossless": one encapsulated fragment per frame (see frame.py)."""
MICNativeLossless = f"{medcodec.MEDCODEC_UID_ROOT}.1.2"
"""Private transfer syntax "MIC Native Lossless": medcodec's own pipeline (see native.py)."""

ENCODE_OPTIONS = {
    "mic_kind": "entropy stage: 'fse2' (default, the reference's single-frame stream), 'fse1', 'fse4' or 'huff'",
}


@medcodec.hookimpl
def medcodec_register_codecs(register: medcodec.Register) -> None:
    register(
        medcodec.CodecSpec(
            name=CODEC_NAME,
            transfer_syntax=MICLossless,
            lossless=True,
            adapter="medcodec_plugin_mic.adapter",
            distribution="medcodec-plugin-mic",
            description="MIC: Delta + RLE + FSE/Huffman, lossless, stream-compatible with the reference codec",
            bits_stored=tuple(range(1, 17)),
            samples_per_pixel=(1,),
            signed=True,
            keyword="MICLossless",
            uid_name="MIC Lossless (medcodec private)",
            options=ENCODE_OPTIONS,
        )
    )
    register(
        medcodec.CodecSpec(
            name="mic_native",
            transfer_syntax=MICNativeLossless,
            lossless=True,
            adapter="medcodec_plugin_mic.native_adapter",
            distribution="medcodec-plugin-mic",
            description="MIC Native: MED/LS4 prediction, row-above contexts, 4-lane tANS, lossless",
            bits_stored=tuple(range(1, 17)),
            samples_per_pixel=(1,),
            signed=True,
            keyword="MICNativeLossless",
            uid_name="MIC Native Lossless (medcodec private)",
            options={
                "mic_native_threads": "strips coded in parallel (0 = all cores, default); output does not depend on it",
                "mic_native_packing": "None (encoder decides), True or False: code ranks of the used values",
                "mic_native_predictor": "'auto' (MED or LS4 per strip) or 'med'",
            },
        )
    )
