"""The codestream marker parser and the DICOM HTJ2K rules, on real codestreams."""

from __future__ import annotations

import imagecodecs
import numpy as np
import openjpeg
import pytest
from medcodec_plugin_htj2k import codec, codestream
from medcodec_plugin_htj2k.codestream import CodestreamError


@pytest.fixture(scope="module")
def ct(real_dataset):
    return real_dataset("ct16_signed").pixel_array


def test_parse_reports_what_openjph_wrote(ct: np.ndarray) -> None:
    stream = codec.encode(ct, codec.EncodeSettings(tlm=True, decompositions=4))
    info = codestream.parse(stream)
    assert (info.height, info.width) == ct.shape == (512, 512)
    assert info.components == (codestream.Component(16, True, 1, 1),)
    assert info.is_ht and info.reversible and info.has_tlm and info.single_tile
    assert (info.progression, info.layers, info.decompositions) == ("RPCL", 1, 4)
    assert (info.codeblock_width, info.codeblock_height) == (64, 64)
    assert info.lowest_resolution == (32, 32)
    assert info.markers[:4] == ("SOC", "SIZ", "CAP", "COD") and info.markers[-1] == "SOT"
    assert codestream.dicom_problems(info, lossless=True, rpcl=True) == []


def test_part1_codestream_breaks_every_ht_rule(ct: np.ndarray) -> None:
    """OpenJPEG's Part-1 stream (LRCP, no CAP, no HT blocks): each missing rule is named."""
    info = codestream.parse(openjpeg.encode(ct, bits_stored=16))
    problems = codestream.dicom_problems(info, lossless=True, rpcl=True)
    assert not info.is_ht and info.progression == "LRCP"
    assert any("Rsiz bit 14" in p for p in problems)
    assert any("no CAP" in p for p in problems)
    assert any("HT code-blocks" in p for p in problems)
    assert any("not RPCL" in p for p in problems)
    assert any("no TLM" in p for p in problems)


def test_rpcl_rules_catch_a_large_lowest_resolution_and_irreversible_wavelet(ct: np.ndarray) -> None:
    stream = codec.encode(ct, codec.EncodeSettings(decompositions=2, reversible=False, qstep=1e-4))
    problems = codestream.dicom_problems(codestream.parse(stream), lossless=True, rpcl=True)
    assert "the wavelet is not the reversible 5-3 one" in problems
    assert "the lowest resolution is 128x128 px, larger than 64 px" in problems
    assert "there is no TLM marker segment" in problems


def test_colour_transform_flag(real_dataset) -> None:
    rgb = real_dataset("us_rgb8").pixel_array
    plain = codestream.parse(codec.encode(rgb, codec.EncodeSettings()))
    rct = codestream.parse(codec.encode(rgb, codec.EncodeSettings(colour_transform=True)))
    assert len(plain.components) == 3 and not plain.colour_transform and rct.colour_transform


@pytest.mark.parametrize(("data", "message"), [
    (b"", "does not start with the SOC marker"),
    (b"\xff\xd8\xff\xe0", "does not start with the SOC marker"),
    (b"\xff\x4f\xff\x51\x00\x29\x00", "SIZ marker segment at byte 2 is truncated"),
    (b"\xff\x4f\xff\x52\x00\x0c" + bytes(10) + b"\xff\x90", "SIZ marker segment must follow SOC"),
])
def test_parse_errors_name_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(CodestreamError, match=message):
        codestream.parse(data)


def test_header_without_cod_is_refused(ct: np.ndarray) -> None:
    stream = codec.encode(ct[:16, :16], codec.EncodeSettings())
    info = codestream.parse(stream)
    siz_end = 4 + int.from_bytes(stream[4:6], "big")
    with pytest.raises(CodestreamError, match="no COD marker"):
        codestream.parse(stream[:siz_end] + stream[info.header_length:])


def test_check_complete_detects_truncation_and_allows_dicom_padding(ct: np.ndarray) -> None:
    stream = codec.encode(ct, codec.EncodeSettings())
    info = codestream.parse(stream)
    codestream.check_complete(stream, info)
    codestream.check_complete(stream + b"\x00", info)  # odd-length fragment padding
    for cut in (len(stream) - 1, len(stream) // 2, info.header_length + 5):
        with pytest.raises(CodestreamError, match="truncated"):
            codestream.check_complete(stream[:cut], info)


def test_imagecodecs_tile_parts_per_resolution_are_walked(ct: np.ndarray) -> None:
    """Several tile-parts (one per resolution) are followed by their Psot lengths up to EOC."""
    stream = bytes(imagecodecs.htj2k_encode(ct, reversible=True, tlm=True, resolutions=5,
                                            tilepart=imagecodecs.HTJ2K.TILEPART.RESOLUTIONS))
    info = codestream.parse(stream)
    codestream.check_complete(stream, info)
    assert stream.count(b"\xff\x90") >= 6
