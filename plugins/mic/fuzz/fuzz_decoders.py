"""Long-running mutation fuzzer for the MIC decoders through Python (no extra dependencies).

    uv run python plugins/mic/fuzz/fuzz_decoders.py --seconds 600

Seeds are streams of every kind encoded from crops of the reference's test images and synthetic
edge cases, plus MIC Lossless frames. Each iteration mutates one seed (bit flips, byte writes,
truncation, splices, length-field edits) and decodes it; anything but a decoded image or a
``MicCodecError`` is a failure, saved under ``fuzz/artifacts/`` and reported. With atheris installed
(``--atheris``), the same harness runs coverage-guided instead.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

import numpy as np
from medcodec_plugin_mic import KINDS, MicCodecError, decode_stream, encode_stream, frame

HERE = Path(__file__).resolve().parent
SHARED = (HERE.parents[2] / ".." / "shared").resolve()


def seed_images() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    images = [
        np.zeros((8, 8), np.uint16),
        np.full((5, 7), 4000, np.uint16),
        rng.integers(0, 4, (9, 9)).astype(np.uint16),
        rng.integers(0, 65536, (16, 16)).astype(np.uint16),
        (np.arange(48, dtype=np.uint16) * 300).reshape(1, 48),
    ]
    mr = SHARED / "mic-golden" / "MR.pixels.raw.nohdr"
    if mr.is_file():
        full = np.frombuffer(mr.read_bytes(), "<u2").reshape(256, 256)
        images += [full[100:132, 90:130].copy(), full[:24, :40].copy()]
    return images


def seeds() -> list[tuple[str, bytes, int, int]]:
    out = []
    for image in seed_images():
        height, width = image.shape
        for kind in KINDS:
            out.append((kind, encode_stream(image, kind), width, height))
        out.append(("frame", frame.encode_frame(image), width, height))
    return out


def mutate(data: bytes, rnd: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        choice = rnd.randrange(6)
        if choice == 0 and buf:
            i = rnd.randrange(len(buf) * 8)
            buf[i // 8] ^= 1 << (i % 8)
        elif choice == 1 and buf:
            buf[rnd.randrange(len(buf))] = rnd.randrange(256)
        elif choice == 2 and buf:
            del buf[rnd.randrange(len(buf)) :]
        elif choice == 3:
            i = rnd.randrange(len(buf) + 1)
            buf[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif choice == 4 and len(buf) >= 8:
            i = rnd.randrange(min(len(buf) - 4, 32))  # headers and length fields live up front
            buf[i : i + 4] = rnd.randrange(1 << 32).to_bytes(4, "little")
        else:
            buf = bytearray(rnd.randbytes(rnd.randint(0, 64)))
    return bytes(buf)


def check_one(kind: str, data: bytes, width: int, height: int) -> None:
    """Decode; only a correct-size image or a MicCodecError is acceptable."""
    try:
        if kind == "frame":
            _, image = frame.decode_frame(data)
        else:
            image = decode_stream(data, width, height, kind)
            assert image.shape == (height, width) and image.dtype == np.uint16
    except MicCodecError as exc:
        assert str(exc).startswith("MIC"), f"error does not name the codec: {exc}"


def run(iterations: int | None, seconds: float | None, seed: int) -> int:
    rnd = random.Random(seed)
    corpus = seeds()
    deadline = time.monotonic() + seconds if seconds else None
    done = 0
    while (iterations is None or done < iterations) and (deadline is None or time.monotonic() < deadline):
        kind, data, width, height = rnd.choice(corpus)
        mutated = mutate(data, rnd)
        try:
            check_one(kind, mutated, width, height)
        except Exception:  # noqa: BLE001 - the fuzzer reports every unexpected failure
            artifacts = HERE / "artifacts"
            artifacts.mkdir(exist_ok=True)
            path = artifacts / f"crash-{kind}-{width}x{height}-{done}.bin"
            path.write_bytes(mutated)
            traceback.print_exc()
            print(f"failure after {done} inputs; input saved to {path}", file=sys.stderr)
            return 1
        done += 1
    print(f"{done} mutated inputs decoded without a crash, hang or foreign exception")
    return 0


def run_atheris() -> int:
    import atheris  # type: ignore[import-not-found]

    def one_input(data: bytes) -> None:
        if len(data) < 3:
            return
        kind = (*KINDS, "frame")[data[2] % 5]
        check_one(kind, data[3:], data[0] % 64 + 1, data[1] % 64 + 1)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--atheris", action="store_true", help="coverage-guided run (needs atheris)")
    args, _ = parser.parse_known_args()
    if args.atheris:
        return run_atheris()
    return run(args.iterations, args.seconds if args.iterations is None else None, args.seed)


if __name__ == "__main__":
    sys.exit(main())
