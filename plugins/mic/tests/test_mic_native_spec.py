"""A second, independent MIC Native decoder written in plain Python from docs/codecs/mic-native.md only,
checked against the Rust decoder on the golden frames: proof that the written format is complete.

It follows the document literally (big-integer bit fields, no tables shared with the Rust code), so it
is slow and only runs on frames of at most 600,000 pixels.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from medcodec_plugin_mic import native

GOLDEN = Path(__file__).parent / "golden_native"
L = 2048


class MsbBits:
    """MSB-first bit fields (frame value list, strip headers)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            value = (value << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def gamma(self) -> int:
        zeros = 0
        while self.read(1) == 0:
            zeros += 1
        return (1 << zeros) | self.read(zeros)


def token_base(t: int) -> tuple[int, int]:
    """(zbase, raw bits) of token t."""
    if t < 16:
        return t, 0
    e, m = 4 + (t - 16) // 4, (t - 16) % 4
    return (4 + m) << (e - 2), e - 2


def decode_tables(freq: list[int]) -> list[tuple[int, int, int]]:
    """Per state: (token, state bits, next-state base), as the document builds them."""
    slot, p = [0] * L, 0
    for t, f in enumerate(freq):
        for _ in range(f):
            slot[p] = t
            p = (p + 1283) % L
    counter = list(freq)
    table = []
    for u in range(L):
        t = slot[u]
        n = counter[t]
        counter[t] += 1
        b = 11 - (n.bit_length() - 1)
        table.append((t, b, n * (1 << b) - L))
    return table


def bucket(s: int) -> int:
    q = s + 1
    h = q.bit_length() - 1
    second = (q >> (h - 1)) & 1 if h >= 1 else 0
    return min(31, 2 * h + second)


def decode_strip(strip: bytes, width: int, rows: int, depth: int) -> list[list[int]]:
    bits = MsbBits(strip)
    predictor = bits.read(2)
    weights = [bits.read(8) for _ in range(4)] if predictor == 1 else []
    weights = [w - 256 if w >= 128 else w for w in weights]
    groups = bits.read(4) + 1
    group_of = [bits.read(4) for _ in range(33)]
    tables = []
    for _ in range(groups):
        n = bits.read(6) + 1
        freq = [bits.gamma() - 1 for _ in range(n)] + [0] * (64 - n)
        assert sum(freq) == L
        tables.append(decode_tables(freq))
    payload = strip[(bits.pos + 7) // 8:]
    number = int.from_bytes(payload, "little")
    position = number.bit_length() - 1  # the end mark

    def field(k: int) -> int:
        nonlocal position
        position -= k
        return (number >> position) & ((1 << k) - 1)

    states = [field(11) for _ in range(4)]
    modulus = 1 << depth
    image: list[list[int]] = []
    z_above: list[int] = []
    for y in range(rows):
        row: list[int] = []
        z_row: list[int] = []
        for x in range(width):
            if y == 0:
                b_index = 32
            else:
                left = z_above[x - 1] if x > 0 else z_above[x]
                right = z_above[x + 1] if x + 1 < width else z_above[x]
                b_index = bucket(2 * z_above[x] + left + right)
            token, state_bits, base = tables[group_of[b_index]][states[x % 4]]
            zbase, raw = token_base(token)
            f = field(state_bits + raw)
            states[x % 4] = base + (f >> raw)
            z = zbase + (f & ((1 << raw) - 1))
            e = (z >> 1) ^ -(z & 1)
            if y == 0:
                prediction = row[x - 1] if x > 0 else modulus // 2
            else:
                up = image[y - 1]
                b = up[x]
                a, c = (row[x - 1], up[x - 1]) if x > 0 else (b, b)
                d = up[x + 1] if x + 1 < width else b
                if predictor == 0:
                    prediction = sorted((a, b, a + b - c))[1]
                else:
                    wa, wb, wc, wd = weights
                    prediction = min(max((wa * a + wb * b + wc * c + wd * d + 32) // 64, 0), modulus - 1)
            row.append((prediction + e) % modulus)
            z_row.append(z)
        image.append(row)
        z_above = z_row
    assert position == 0 and states == [0, 0, 0, 0], "strip does not end where its last pixel does"
    return image


def decode_frame(data: bytes) -> np.ndarray:
    magic, version, flags, _bits_stored, depth, width, height, strip_rows, offset, reserved, count = (
        struct.unpack_from("<4sBBBBIIIHHI", data))
    assert magic == b"MICN" and version == 1 and reserved == 0
    pos = 28
    values: list[int] = []
    if flags & 2:
        (length,) = struct.unpack_from("<I", data, pos)
        bits = MsbBits(data[pos + 4:pos + 4 + length])
        pos += 4 + length
        first, span = bits.read(16), 0
        values = [first]
        for _ in range(count - 1):
            span += bits.gamma()
            values.append((first + span) % 65536)
    strips = -(-height // strip_rows)
    lengths = struct.unpack_from(f"<{strips}I", data, pos)
    pos += 4 * strips
    flip = (0x80 if flags & 4 else 0x8000) if flags & 1 else 0
    rows_out: list[list[int]] = []
    for s, length in enumerate(lengths):
        rows = min(height, (s + 1) * strip_rows) - s * strip_rows
        coded = decode_strip(data[pos:pos + length], width, rows, depth)
        pos += length
        for row in coded:
            rows_out.append([(values[c] if flags & 2 else (c + offset) % 65536) ^ flip for c in row])
    return np.array(rows_out, dtype=np.uint16)


def _golden_frames() -> list[str]:
    manifest = json.loads((GOLDEN / "MANIFEST.json").read_text())
    return [f["file"] for f in manifest["frames"] if f["rows"] * f["columns"] <= 600_000]


@pytest.mark.parametrize("name", _golden_frames())
def test_spec_decoder_matches_the_rust_decoder_on_golden_frames(name: str) -> None:
    data = (GOLDEN / name).read_bytes()
    expected = native.decode(data)
    words = expected.view(np.uint8 if expected.dtype.itemsize == 1 else np.uint16).astype(np.uint16)
    np.testing.assert_array_equal(decode_frame(data), words)


def test_spec_decoder_on_fresh_frames_of_every_kind() -> None:
    """LS4 and MED, packed and offset, signed 8-bit, wrapped values: all decoded from the document alone."""
    from pydicom import examples

    ct = examples.ct.pixel_array[:48, :40]
    cases = [
        native.encode(ct),
        native.encode(ct, predictor="med"),
        native.encode(((ct.astype(np.int32) - ct.min()) * 5).astype(np.uint16), packing=True),
        native.encode((ct >> 5).astype(np.int8)),
        native.encode((ct.astype(np.int32) - 1000).astype(np.uint16), bits_stored=16),  # wraps around 0
    ]
    for data in cases:
        expected = native.decode(data)
        words = expected.view(np.uint8 if expected.dtype.itemsize == 1 else np.uint16).astype(np.uint16)
        np.testing.assert_array_equal(decode_frame(data), words)
