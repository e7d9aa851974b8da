"""Entry-point target: declares the codec. Only the standard library and medcodec are imported here."""

import medcodec

#: ACME's private transfer syntax: its own UID root (2.25.<UUID>), one arc per codec.
ACMEDeltaDeflate = "2.25.115535263230877156563798271696638850145.1"


@medcodec.hookimpl
def medcodec_register_codecs(register: medcodec.Register) -> None:
    register(medcodec.CodecSpec(
        name="acme_delta_deflate",
        transfer_syntax=ACMEDeltaDeflate,
        lossless=True,
        adapter="acme_dicom_codec.adapter",
        distribution="acme-dicom-codec",
        description="ACME Delta-Deflate Lossless (left/above delta, zig-zag, deflate)",
        bits_stored=tuple(range(1, 17)),
        samples_per_pixel=(1, 3),
        keyword="ACMEDeltaDeflate",
        uid_name="ACME Delta-Deflate Lossless",
    ))
