"""The packed-file codec: byte-exact round trips on real DICOM files, never-expand, integrity, encryption,
and bounded fuzzing of the Rust decoder (it must raise, never crash)."""

from __future__ import annotations

import heapq
import random
import struct
import zlib
from pathlib import Path

import pytest
from medcodec_plugin_huffman import _huffman, codec
from medcodec_plugin_huffman.errors import (
    DamagedError,
    DecryptionError,
    HuffmanFormatError,
    KeyRequiredError,
    NotPackedError,
)

from .conftest import corpus_files

CORPUS = corpus_files()
KEY = bytes(range(32))
BODY = codec.PLAIN_HEADER_SIZE  # offset of the body (and of the code-length table) in a plain file


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


# -------------------------------------------------------------------------
# round trips and never-expand on real files
# -------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS, reason="shared/corpus is not available")
@pytest.mark.parametrize("path", CORPUS, ids=_ids(CORPUS))
def test_every_corpus_file_round_trips_byte_exact_and_never_expands(path: Path) -> None:
    data = path.read_bytes()
    packed, method = codec.pack(data)
    assert codec.unpack_bytes(packed) == data
    assert len(packed) <= len(data) + codec.PLAIN_HEADER_SIZE
    if method is codec.Method.HUFFMAN:
        assert len(packed) < len(data) + codec.PLAIN_HEADER_SIZE


def test_every_pydicom_test_file_round_trips(pydicom_files: list[Path]) -> None:
    for path in pydicom_files:
        data = path.read_bytes()
        packed = codec.pack_bytes(data)
        assert codec.unpack_bytes(packed) == data, path.name
        assert len(packed) <= len(data) + codec.PLAIN_HEADER_SIZE, path.name


def test_uncompressed_ct_is_huffman_coded_and_shrinks(ct_file: Path) -> None:
    data = ct_file.read_bytes()
    packed, method = codec.pack(data)
    assert method is codec.Method.HUFFMAN
    assert codec.read_header(packed).method is codec.Method.HUFFMAN
    assert len(packed) < 0.75 * len(data)  # measured 0.69: byte entropy of a 16-bit CT


def test_incompressible_file_is_stored_raw_with_only_the_header_added(jpeg2000_file: Path) -> None:
    # The paper's CT-MONO2-16-chest case (ratio 0.992): coding would grow the file, so it is stored.
    data = jpeg2000_file.read_bytes()
    packed, method = codec.pack(data)
    assert method is codec.Method.STORED
    assert len(packed) == len(data) + codec.PLAIN_HEADER_SIZE
    assert packed[BODY:] == data
    assert codec.unpack_bytes(packed) == data


def test_random_bytes_are_stored_raw() -> None:
    data = random.Random(1).randbytes(50_000)
    packed, method = codec.pack(data)
    assert method is codec.Method.STORED
    assert codec.unpack_bytes(packed) == data


# -------------------------------------------------------------------------
# edge cases of the coder
# -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"A", b"\x00" * 7, b"\xff" * 100_000, bytes(range(256)), bytes(range(256)) * 40, b"ab" * 33],
    ids=["empty", "one-zero", "one-byte", "seven-zeros", "one-symbol-100k", "all-symbols", "uniform", "two-symbols"],
)
def test_edge_cases_round_trip(data: bytes) -> None:
    packed = codec.pack_bytes(data)
    assert codec.unpack_bytes(packed) == data
    assert len(packed) <= len(data) + codec.PLAIN_HEADER_SIZE


def test_every_length_and_tail_alignment_round_trips() -> None:
    # Every output length 0..600 with skewed data exercises every bit alignment of the final partial
    # word of the encoder and the decoder's switch from its 8-byte fast path to its tail loop.
    rng = random.Random(7)
    alphabet = b"\x00" * 20 + b"\x01" * 6 + b"\x02\x03\x04\x05\xfe\xff"
    for size in range(601):
        data = bytes(rng.choice(alphabet) for _ in range(size))
        payload = _huffman.encode(data, len(data) + 1)
        if payload is not None:
            assert _huffman.decode(payload, 0, size) == data, size
        assert codec.unpack_bytes(codec.pack_bytes(data)) == data, size


def _fibonacci_data(symbols: int) -> bytes:
    # Fibonacci counts give the deepest unconstrained Huffman tree (length symbols-1).
    counts = [1, 1]
    while len(counts) < symbols:
        counts.append(counts[-1] + counts[-2])
    return b"".join(bytes([s]) * c for s, c in enumerate(counts))


def test_code_lengths_are_limited_and_complete() -> None:
    data = _fibonacci_data(20)  # unconstrained Huffman would need 19-bit codewords
    lengths = _huffman.code_lengths(data)
    used = [n for n in lengths if n]
    assert len(used) == 20
    assert max(used) == _huffman.MAX_CODE_LEN == 12
    assert sum(2.0 ** -n for n in used) == 1.0  # Kraft equality: a complete prefix code
    assert codec.unpack_bytes(codec.pack_bytes(data)) == data


def _huffman_cost(counts: list[int]) -> int:
    """Total bits of an unconstrained optimal Huffman code (sum of internal node weights)."""
    heap = [c for c in counts if c]
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        cost += merged
        heapq.heappush(heap, merged)
    return cost


def test_code_is_optimal_when_the_limit_does_not_bind() -> None:
    rng = random.Random(3)
    for _ in range(20):
        counts = [rng.choice([0, 1, 2, 5, 30, 200, 1000]) for _ in range(256)]
        data = b"".join(bytes([s]) * c for s, c in enumerate(counts))
        lengths = _huffman.code_lengths(data)
        if max(lengths) >= _huffman.MAX_CODE_LEN:
            continue
        assert sum(c * n for c, n in zip(counts, lengths)) == _huffman_cost(counts)


def test_crc32_matches_zlib(ct_file: Path) -> None:
    data = ct_file.read_bytes()
    assert codec.crc32(data) == zlib.crc32(data)
    assert codec.read_header(codec.pack_bytes(data)).crc32 == zlib.crc32(data)


# -------------------------------------------------------------------------
# damaged files: a clear error, never wrong data
# -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def packed_ct(ct_file: Path) -> tuple[bytes, bytes]:
    data = ct_file.read_bytes()
    return data, codec.pack_bytes(data)


def _patch(blob: bytes, offset: int, new: bytes) -> bytes:
    return blob[:offset] + new + blob[offset + len(new) :]


def test_flipped_bit_in_the_bitstream_is_refused(packed_ct: tuple[bytes, bytes]) -> None:
    _, packed = packed_ct
    offset = len(packed) // 2
    damaged = _patch(packed, offset, bytes([packed[offset] ^ 0x10]))
    with pytest.raises(DamagedError, match="checksum mismatch|corrupt Huffman payload|truncated"):
        codec.unpack_bytes(damaged)


def test_wrong_checksum_is_refused(packed_ct: tuple[bytes, bytes]) -> None:
    _, packed = packed_ct
    damaged = _patch(packed, 15, struct.pack("<I", codec.read_header(packed).crc32 ^ 1))
    with pytest.raises(DamagedError, match=r"checksum mismatch \(CRC-32 0x[0-9a-f]{8}, expected"):
        codec.unpack_bytes(damaged)


@pytest.mark.parametrize("keep", [0, 3, 10, BODY, BODY + 64, BODY + 200, -1])
def test_truncated_file_is_refused(packed_ct: tuple[bytes, bytes], keep: int) -> None:
    _, packed = packed_ct
    with pytest.raises(HuffmanFormatError):
        codec.unpack_bytes(packed[:keep])


def test_trailing_garbage_is_refused(packed_ct: tuple[bytes, bytes]) -> None:
    _, packed = packed_ct
    with pytest.raises(DamagedError, match="unexpected bytes follow the last codeword"):
        codec.unpack_bytes(packed + b"\x00\x00")


def test_forged_size_is_refused_before_allocating(packed_ct: tuple[bytes, bytes]) -> None:
    _, packed = packed_ct
    damaged = _patch(packed, 7, struct.pack("<Q", 2**62))
    with pytest.raises(DamagedError, match="announces 4611686018427387904 bytes"):
        codec.unpack_bytes(damaged)


def test_not_a_packed_file(ct_file: Path) -> None:
    with pytest.raises(NotPackedError, match="not a medcodec Huffman file"):
        codec.unpack_bytes(ct_file.read_bytes())


def test_unknown_version_and_flags_and_method(packed_ct: tuple[bytes, bytes]) -> None:
    _, packed = packed_ct
    with pytest.raises(HuffmanFormatError, match="format version 9 is not supported"):
        codec.unpack_bytes(_patch(packed, 4, b"\x09"))
    with pytest.raises(DamagedError, match="unknown flag bits 0x80"):
        codec.unpack_bytes(_patch(packed, 5, b"\x80"))
    with pytest.raises(DamagedError, match="unknown coding method 7"):
        codec.unpack_bytes(_patch(packed, 6, b"\x07"))


def test_over_subscribed_code_table_is_refused(packed_ct: tuple[bytes, bytes]) -> None:
    _, packed = packed_ct
    damaged = _patch(packed, BODY, b"\x11" * 4)  # eight 1-bit codewords
    with pytest.raises(DamagedError, match="over-subscribed"):
        codec.unpack_bytes(damaged)


def test_code_length_above_the_limit_is_refused(packed_ct: tuple[bytes, bytes]) -> None:
    _, packed = packed_ct
    with pytest.raises(DamagedError, match="code length of 15 bits, above the limit of 12"):
        codec.unpack_bytes(_patch(packed, BODY, b"\xf0"))


def test_random_mutations_of_a_real_packed_file_never_pass(pydicom_files: list[Path]) -> None:
    # Bounded mutation fuzzing: every damaged variant must raise a HuffmanFormatError (a ValueError);
    # nothing may crash the interpreter or silently return other bytes.
    source = next(p for p in pydicom_files if p.name == "CT_small.dcm").read_bytes()
    packed = codec.pack_bytes(source)
    rng = random.Random(11)
    for _ in range(1500):
        mutated = bytearray(packed)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(mutated))
            if rng.random() < 0.3:
                position = rng.randrange(min(len(mutated), BODY + 128))  # aim at header and table
            mutated[position] = rng.randrange(256)
        if rng.random() < 0.1:
            del mutated[rng.randrange(len(mutated)) :]
        try:
            restored = codec.unpack_bytes(bytes(mutated))
        except HuffmanFormatError:
            continue
        assert restored == source  # only a no-op mutation may succeed


def test_decoder_fuzz_with_random_tables_and_bitstreams() -> None:
    # Real tables (so decoding really runs) with random, consistently sized bitstreams and random output
    # sizes, then plain garbage: the decoder must return exactly `size` bytes or raise ValueError.
    rng = random.Random(5)
    for _ in range(400):
        data = bytes(rng.choice(b"\x00\x00\x00\x01\x02\x7f\x80\xff") for _ in range(rng.randint(1, 300)))
        payload = _huffman.encode(data, 10**9)
        assert payload is not None
        streams = [rng.randbytes(rng.randint(0, 40)) for _ in range(4)]
        blob = payload[:128] + struct.pack("<3Q", *(len(s) for s in streams[:3])) + b"".join(streams)
        for size in (0, 1, rng.randint(0, 600), 10**12):
            try:
                out = _huffman.decode(blob, 0, size)
            except ValueError:
                continue
            assert len(out) == size
    for _ in range(300):
        blob = rng.randbytes(rng.randint(0, 300))
        try:
            _huffman.decode(blob, rng.randint(0, 400), rng.randint(0, 5000))
        except ValueError:
            pass


def test_stream_sizes_beyond_the_payload_are_refused(packed_ct: tuple[bytes, bytes]) -> None:
    _, packed = packed_ct
    damaged = _patch(packed, BODY + 128, struct.pack("<Q", 2**40))
    with pytest.raises(DamagedError, match="stream 0 is announced with 1099511627776 bytes"):
        codec.unpack_bytes(damaged)


# -------------------------------------------------------------------------
# encryption
# -------------------------------------------------------------------------


def test_encrypted_round_trip_hides_the_content(ct_file: Path) -> None:
    data = ct_file.read_bytes()
    encrypted, method = codec.pack(data, key=KEY)
    assert method is codec.Method.HUFFMAN
    header = codec.read_header(encrypted)
    assert header.encrypted and header.original_size is None and header.crc32 is None
    plain = codec.pack_bytes(data)
    assert len(encrypted) == len(plain) + codec.ENCRYPTION_OVERHEAD
    assert plain[BODY : BODY + 128] not in encrypted  # the code table is not readable any more
    assert codec.unpack_bytes(encrypted, key=KEY) == data
    assert codec.pack_bytes(data, key=KEY) != encrypted  # a fresh nonce per file


def test_wrong_key_is_refused(ct_file: Path) -> None:
    encrypted = codec.pack_bytes(ct_file.read_bytes(), key=KEY)
    with pytest.raises(DecryptionError, match="wrong key, or the file was altered"):
        codec.unpack_bytes(encrypted, key=bytes(32))


@pytest.mark.parametrize("offset", [5, 8, 40, -1])  # flags, nonce, ciphertext, tag
def test_tampered_encrypted_file_is_refused(ct_file: Path, offset: int) -> None:
    encrypted = bytearray(codec.pack_bytes(ct_file.read_bytes(), key=KEY))
    encrypted[offset] ^= 0x01
    with pytest.raises(HuffmanFormatError, match="wrong key, or the file was altered|the file is damaged"):
        codec.unpack_bytes(bytes(encrypted), key=KEY)


def test_missing_or_needless_key(ct_file: Path) -> None:
    data = ct_file.read_bytes()
    with pytest.raises(KeyRequiredError, match="the file is encrypted: give the key file"):
        codec.unpack_bytes(codec.pack_bytes(data, key=KEY))
    with pytest.raises(KeyRequiredError, match="the file is not encrypted"):
        codec.unpack_bytes(codec.pack_bytes(data), key=KEY)
    with pytest.raises(KeyRequiredError, match="must be 32 bytes"):
        codec.pack_bytes(data, key=b"short")


def test_incompressible_encrypted_file_has_bounded_overhead(jpeg2000_file: Path) -> None:
    data = jpeg2000_file.read_bytes()
    encrypted = codec.pack_bytes(data, key=KEY)
    assert len(encrypted) == len(data) + codec.PLAIN_HEADER_SIZE + codec.ENCRYPTION_OVERHEAD
    assert codec.unpack_bytes(encrypted, key=KEY) == data
