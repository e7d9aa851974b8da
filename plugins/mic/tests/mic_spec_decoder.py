"""An independent, deliberately slow MIC decoder written from the format notes (mic-format.md), not
from the plugin's Rust code. Tests use it to prove that what the plugin encodes is decodable by the
reference's algorithm. Pure Python, bit strings and plain loops: clarity over speed.
"""

from __future__ import annotations

import struct


class SpecDecodeError(ValueError):
    pass


def bit_length(value: int) -> int:
    return value.bit_length()


# --- Delta + RLE (sections 2.1 and 2.2) -------------------------------------------------------------
def delta_rle_decode(words: list[int], width: int, height: int) -> list[int]:
    """Word stream -> pixels, following RleDecompressU16.DecodeNext2 and the delta predictor."""
    header = words[0]
    mid = (1 << (bit_length(header) - 1)) - 1
    pos = 1
    count = 0
    value = 0

    def next_word() -> int:
        nonlocal pos, count, value
        if 0 < count < mid:
            count -= 1
            return value
        if count == 0 or count == mid:
            count = words[pos]
            pos += 1
            if count <= mid:
                value = words[pos]
                pos += 1
                count = (count - 1) & 0xFFFF
                return value
        literal = words[pos]
        pos += 1
        count = (count - 1) & 0xFFFF
        return literal

    max_value = next_word()
    depth = bit_length(max_value)
    threshold = (1 << (depth - 1)) - 1
    delimiter = (1 << depth) - 1
    out = [0] * (width * height)
    for y in range(height):
        for x in range(width):
            i = y * width + x
            if x > 0 and y > 0:
                pred = (out[i - 1] + out[i - width]) >> 1
            elif x > 0:
                pred = out[i - 1]
            elif y > 0:
                pred = out[i - width]
            else:
                pred = 0
            symbol = next_word()
            if symbol == delimiter:
                out[i] = next_word()
            else:
                out[i] = (pred + symbol - threshold) & 0xFFFF
    return out


# --- Canonical Huffman (section 2.3) ----------------------------------------------------------------
def huffman_decode(data: bytes) -> list[int]:
    bits = "".join(f"{b:08b}" for b in data)
    pos = 0

    def take(n: int) -> int:
        nonlocal pos
        if n == 0:
            return 0
        chunk = bits[pos : pos + n]
        if len(chunk) < n:
            raise SpecDecodeError("Huffman stream truncated")
        pos += n
        return int(chunk, 2)

    count = take(32)
    max_value = take(16)
    max_len = take(8)
    n_entries = take(16)
    depth = bit_length(max_value)
    escape = (1 << depth) - 1
    symbols = [take(depth) for _ in range(n_entries)]
    lengths = [take(bit_length(max_len)) for _ in range(n_entries)]
    # Canonical codes: lengths ascending, start[l] = (start[prev] + count[prev]) << (l - prev).
    per_length: dict[int, int] = {}
    for length in lengths:
        per_length[length] = per_length.get(length, 0) + 1
    start: dict[int, int] = {}
    prev = None
    for length in sorted(per_length):
        start[length] = 0 if prev is None else (start[prev] + per_length[prev]) << (length - prev)
        prev = length
    code_of: dict[tuple[int, int], int] = {}
    for symbol, length in zip(symbols, lengths):
        code_of[(length, start[length])] = symbol
        start[length] += 1
    out = []
    for _ in range(count):
        code, length = 0, 0
        while (length, code) not in code_of:
            code = (code << 1) | take(1)
            length += 1
            if length > max_len:
                raise SpecDecodeError("Huffman code not in table")
        symbol = code_of[(length, code)]
        out.append(take(depth) if symbol == escape else symbol)
    return out


# --- FSE (section 2.4 and 2.6) ----------------------------------------------------------------------
def _read_ncount(data: bytes) -> tuple[list[int], int, int]:
    bits = "".join(f"{b:08b}"[::-1] for b in data)  # LSB-first bit order
    pos = 0

    def peek(n: int) -> int:
        chunk = bits[pos : pos + n].ljust(n, "0")
        return int(chunk[::-1], 2) if n else 0

    def skip(n: int) -> None:
        nonlocal pos
        pos += n

    table_log = peek(4) + 5
    skip(4)
    remaining = (1 << table_log) + 1
    threshold = 1 << table_log
    nb_bits = table_log + 1
    norm: list[int] = []
    previous0 = False
    while remaining > 1:
        if previous0:
            zeros = 0
            while peek(16) == 0xFFFF:
                zeros += 24
                skip(16)
            while peek(2) == 3:
                zeros += 3
                skip(2)
            zeros += peek(2)
            skip(2)
            norm.extend([0] * zeros)
        max_small = 2 * threshold - 1 - remaining
        low = peek(nb_bits - 1)
        if low < max_small:
            count = low
            skip(nb_bits - 1)
        else:
            count = peek(nb_bits)
            if count >= threshold:
                count -= max_small
            skip(nb_bits)
        count -= 1
        remaining -= abs(count)
        norm.append(count)
        previous0 = count == 0
        while remaining < threshold:
            nb_bits -= 1
            threshold >>= 1
    return norm, table_log, (pos + 7) // 8


def _decode_table(norm: list[int], table_log: int) -> list[tuple[int, int, int]]:
    size = 1 << table_log
    table = [0] * size
    high = size - 1
    for symbol, n in enumerate(norm):
        if n == -1:
            table[high] = symbol
            high -= 1
    step = (size >> 1) + (size >> 3) + 3
    position = 0
    for symbol, n in enumerate(norm):
        for _ in range(max(n, 0)):
            table[position] = symbol
            position = (position + step) & (size - 1)
            while position > high:
                position = (position + step) & (size - 1)
    if position != 0:
        raise SpecDecodeError("bad FSE spread")
    next_state = [1 if n == -1 else n for n in norm]
    entries = []
    for symbol in table:
        nxt = next_state[symbol]
        next_state[symbol] += 1
        nb = table_log - (nxt.bit_length() - 1)
        entries.append((symbol, nb, (nxt << nb) - size))
    return entries


class _Backward:
    """Reads an LSB-first bit sequence from its end (after the end mark)."""

    def __init__(self, payload: bytes) -> None:
        self.bits = "".join(f"{b:08b}"[::-1] for b in payload)
        last = payload[-1]
        self.pos = (len(payload) - 1) * 8 + last.bit_length() - 1

    def read(self, n: int) -> int:
        if n == 0:
            return 0
        if n > self.pos:
            raise SpecDecodeError("FSE payload exhausted")
        self.pos -= n
        return int(self.bits[self.pos : self.pos + n][::-1], 2)


def fse_decode(data: bytes, max_words: int) -> list[int]:
    if data[0] == 0xFF:
        n_states = {0x02: 2, 0x04: 4}[data[1]]
        (count,) = struct.unpack_from("<I", data, 2)
        norm, table_log, header_len = _read_ncount(data[6:])
        entries = _decode_table(norm, table_log)
        reader = _Backward(data[6 + header_len :])
        states = [reader.read(table_log) for _ in range(n_states)]
        out = []
        for i in range(count):
            symbol, nb, base = entries[states[i % n_states]]
            out.append(symbol)
            states[i % n_states] = base + reader.read(nb)
        return out
    norm, table_log, header_len = _read_ncount(data)
    entries = _decode_table(norm, table_log)
    reader = _Backward(data[header_len:])
    state = reader.read(table_log)
    out = []
    while len(out) < max_words:
        symbol, nb, base = entries[state]
        if reader.pos == 0 and nb > 0:
            if state != 0:
                out.append(symbol)
            break
        out.append(symbol)
        state = base + reader.read(nb)
    return out


def decode(data: bytes, width: int, height: int, kind: str) -> list[int]:
    """Decode a MIC stream of ``kind`` into a flat list of pixel values."""
    if kind == "huff":
        words = huffman_decode(data)
    else:
        words = fse_decode(data, 4 * width * height + 16)
    return delta_rle_decode(words, width, height)
