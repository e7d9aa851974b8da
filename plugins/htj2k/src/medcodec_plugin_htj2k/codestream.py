"""Read the main header of a JPEG 2000 / HTJ2K codestream (ISO/IEC 15444-1 Annex A, 15444-15 Annex A).

Only what the DICOM rules for the HTJ2K transfer syntaxes talk about is decoded: image and tile size, component
precision and sign (SIZ), the HT capability (Rsiz bit 14 and CAP), progression order, layers, colour transform,
decomposition levels, code-block size and style, wavelet (COD), and whether tile-part lengths (TLM) are given.
Tile-part headers and packet data are not read: the main header ends at the first SOT marker.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SOC, SIZ, CAP, COD, COC, TLM, QCD, QCC, SOT, EOC = (
    0xFF4F, 0xFF51, 0xFF50, 0xFF52, 0xFF53, 0xFF55, 0xFF5C, 0xFF5D, 0xFF90, 0xFFD9,
)
MARKER_NAMES = {
    SOC: "SOC", SIZ: "SIZ", CAP: "CAP", COD: "COD", COC: "COC", TLM: "TLM", QCD: "QCD", QCC: "QCC",
    0xFF5E: "RGN", 0xFF5F: "POC", 0xFF57: "PLM", 0xFF60: "PPM", 0xFF63: "CRG", 0xFF64: "COM", 0xFF59: "CPF",
    SOT: "SOT", EOC: "EOC",
}
PROGRESSION_ORDERS = ("LRCP", "RLCP", "RPCL", "PCRL", "CPRL")

RSIZ_HT = 0x4000
"""Rsiz bit 14: the codestream may contain HT code-blocks (15444-15 A.2)."""
PCAP_PART15 = 1 << (32 - 15)
"""Pcap bit for Part 15 in the CAP marker (bit 15 counted from the most significant end)."""
CBSTYLE_HT = 0x40
"""Code-block style bit 6: HT code-blocks (15444-15 Table A.3)."""
WAVELET_REVERSIBLE_53 = 1

#: HTJ2K Lossless RPCL (.202) wants a thumbnail-sized lowest resolution (PS3.5 §10.18: base resolution <= 64).
RPCL_MAX_LOWEST_RESOLUTION = 64


class CodestreamError(ValueError):
    """The bytes are not a well-formed JPEG 2000 codestream main header."""


@dataclass(frozen=True)
class Component:
    precision: int
    signed: bool
    dx: int
    dy: int


@dataclass(frozen=True)
class CodestreamInfo:
    """The main-header facts of one codestream."""

    rsiz: int
    width: int
    height: int
    tile_width: int
    tile_height: int
    components: tuple[Component, ...]
    progression: str
    layers: int
    colour_transform: bool
    decompositions: int
    codeblock_width: int
    codeblock_height: int
    codeblock_style: int
    wavelet: int
    pcap: int | None
    ccap: tuple[int, ...]
    has_tlm: bool
    header_length: int
    markers: tuple[str, ...] = field(default=())

    @property
    def is_ht(self) -> bool:
        """HT code-blocks declared everywhere the standard asks: Rsiz, CAP and the COD code-block style."""
        return bool(self.rsiz & RSIZ_HT) and self.pcap is not None and bool(self.pcap & PCAP_PART15) and \
            bool(self.codeblock_style & CBSTYLE_HT)

    @property
    def reversible(self) -> bool:
        return self.wavelet == WAVELET_REVERSIBLE_53

    @property
    def single_tile(self) -> bool:
        return self.tile_width >= self.width and self.tile_height >= self.height

    def resolution_size(self, reduce: int) -> tuple[int, int]:
        """(rows, columns) of the image after discarding ``reduce`` resolution levels (ceil division)."""
        scale = 1 << reduce
        return -(-self.height // scale), -(-self.width // scale)

    @property
    def lowest_resolution(self) -> tuple[int, int]:
        return self.resolution_size(self.decompositions)


def _u16(buf: bytes | bytearray, pos: int) -> int:
    return int(struct.unpack_from(">H", buf, pos)[0])


def parse(buf: bytes | bytearray | memoryview) -> CodestreamInfo:
    """Parse the main header of ``buf``; raise :class:`CodestreamError` naming the problem."""
    data = buf if isinstance(buf, bytes | bytearray) else bytes(buf)
    if len(data) < 2 or _u16(data, 0) != SOC:
        raise CodestreamError("not a JPEG 2000 codestream: it does not start with the SOC marker (FF4F)")
    pos, markers = 2, ["SOC"]
    fields: dict[str, object] = {"pcap": None, "ccap": (), "has_tlm": False}
    while True:
        if pos + 2 > len(data):
            raise CodestreamError(f"main header truncated at byte {pos} (no SOT marker found)")
        marker = _u16(data, pos)
        if marker >> 8 != 0xFF:
            raise CodestreamError(f"expected a marker at byte {pos}, found 0x{marker:04X}")
        name = MARKER_NAMES.get(marker, f"0x{marker:04X}")
        if len(markers) == 1 and marker != SIZ:
            raise CodestreamError(f"the SIZ marker segment must follow SOC, found {name}")
        markers.append(name)
        if marker in (SOT, EOC):
            fields["header_length"] = pos
            break
        length = _u16(data, pos + 2) if pos + 4 <= len(data) else 0
        body = data[pos + 4: pos + 2 + length]
        if length < 2 or len(body) != length - 2:
            raise CodestreamError(f"{name} marker segment at byte {pos} is truncated")
        if marker == SIZ:
            fields.update(_parse_siz(body))
        elif marker == COD:
            fields.update(_parse_cod(body))
        elif marker == CAP:
            if len(body) < 4:
                raise CodestreamError("CAP marker segment is too short")
            pcap = int(struct.unpack_from(">I", body, 0)[0])
            fields["pcap"] = pcap
            fields["ccap"] = tuple(_u16(body, 4 + 2 * i) for i in range((len(body) - 4) // 2))
        elif marker == TLM:
            fields["has_tlm"] = True
        pos += 2 + length
    if "progression" not in fields:
        raise CodestreamError("the main header has no COD marker segment")
    return CodestreamInfo(markers=tuple(markers), **fields)  # type: ignore[arg-type]


def _parse_siz(body: bytes | bytearray) -> dict[str, object]:
    if len(body) < 36:
        raise CodestreamError("SIZ marker segment is too short")
    rsiz, xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz, _xtosiz, _ytosiz, csiz = struct.unpack_from(">HIIIIIIIIH", body)
    if len(body) < 36 + 3 * csiz or csiz == 0:
        raise CodestreamError(f"SIZ declares {csiz} components but does not describe them")
    components = tuple(
        Component((body[36 + 3 * i] & 0x7F) + 1, bool(body[36 + 3 * i] & 0x80), body[37 + 3 * i], body[38 + 3 * i])
        for i in range(csiz)
    )
    return {"rsiz": rsiz, "width": xsiz - xosiz, "height": ysiz - yosiz, "tile_width": xtsiz,
            "tile_height": ytsiz, "components": components}


def _parse_cod(body: bytes | bytearray) -> dict[str, object]:
    if len(body) < 10:
        raise CodestreamError("COD marker segment is too short")
    _scod, progression, layers, mct, levels, xcb, ycb, style, wavelet = struct.unpack_from(">BBHBBBBBB", body)
    if progression >= len(PROGRESSION_ORDERS):
        raise CodestreamError(f"COD declares an unknown progression order {progression}")
    return {"progression": PROGRESSION_ORDERS[progression], "layers": layers, "colour_transform": bool(mct),
            "decompositions": levels, "codeblock_width": 1 << (xcb + 2), "codeblock_height": 1 << (ycb + 2),
            "codeblock_style": style, "wavelet": wavelet}


def check_complete(buf: bytes | bytearray, info: CodestreamInfo) -> None:
    """Raise :class:`CodestreamError` unless every tile-part is whole and the codestream ends with EOC.

    Decoders differ on truncated input (OpenJPH and OpenJPEG may both return a partly grey image without an
    error), so the tile-part lengths (Psot) are checked before decoding. One trailing zero byte is allowed:
    DICOM pads odd-length fragments.
    """
    end = len(buf)
    if end >= 1 and buf[end - 1] == 0 and end >= 3 and _u16(buf, end - 3) == EOC:
        end -= 1
    pos = info.header_length
    while pos + 2 <= end and _u16(buf, pos) == SOT:
        if pos + 12 > end:
            raise CodestreamError(f"tile-part header at byte {pos} is truncated")
        psot = int(struct.unpack_from(">I", buf, pos + 6)[0])
        if psot == 0:  # the last tile-part runs to EOC
            pos = end - 2
            break
        pos += psot
    if pos + 2 != end or _u16(buf, pos) != EOC:
        raise CodestreamError(
            f"the codestream is truncated or damaged: the tile-parts end at byte {pos}, the data at byte {end}, "
            "and no EOC marker (FFD9) closes it")


def dicom_problems(info: CodestreamInfo, *, lossless: bool, rpcl: bool) -> list[str]:
    """What keeps ``info`` from meeting the DICOM rules of an HTJ2K transfer syntax (empty when it does).

    :param lossless: the syntax is lossless only (.201, .202): reversible 5-3 wavelet required.
    :param rpcl: the syntax is HTJ2K Lossless RPCL (.202): RPCL order, TLM, small lowest resolution.
    """
    problems = []
    if not info.rsiz & RSIZ_HT:
        problems.append("Rsiz bit 14 (HTJ2K) is not set")
    if info.pcap is None:
        problems.append("there is no CAP marker segment")
    elif not info.pcap & PCAP_PART15:
        problems.append("the CAP marker does not declare Part 15")
    if not info.codeblock_style & CBSTYLE_HT:
        problems.append("the COD code-block style does not select HT code-blocks")
    if lossless and not info.reversible:
        problems.append("the wavelet is not the reversible 5-3 one")
    if rpcl:
        if info.progression != "RPCL":
            problems.append(f"the progression order is {info.progression}, not RPCL")
        if not info.has_tlm:
            problems.append("there is no TLM marker segment")
        rows, columns = info.lowest_resolution
        if max(rows, columns) > RPCL_MAX_LOWEST_RESOLUTION:
            problems.append(f"the lowest resolution is {columns}x{rows} px, larger than "
                            f"{RPCL_MAX_LOWEST_RESOLUTION} px")
    return problems
