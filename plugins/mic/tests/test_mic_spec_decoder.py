"""Encoder output checked by the independent spec decoder (tests/mic_spec_decoder.py).

The spec decoder is first validated on the reference's own streams, then used on what this plugin
encodes: real images (crops of the reference images and of pydicom's test files) and edge cases.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from medcodec_plugin_mic import encode_stream

KINDS = ("huff", "fse1", "fse2", "fse4")


@pytest.mark.parametrize("kind", KINDS)
def test_spec_decoder_reads_reference_streams(
    spec_decoder: ModuleType, golden_dir: Path, golden_images: dict, kind: str
) -> None:
    image = golden_images["MR"]
    data = (golden_dir / f"MR.{kind}").read_bytes()
    decoded = spec_decoder.decode(data, image.shape[1], image.shape[0], kind)
    np.testing.assert_array_equal(np.array(decoded, dtype=np.uint16).reshape(image.shape), image)


def _crops(golden_images: dict) -> dict[str, np.ndarray]:
    return {
        "CT-signed-crop": golden_images["CT"][200:264, 180:276],
        "MR1-crop": golden_images["MR1"][256:320, 100:164],
        "MR4-edge-crop": golden_images["MR4"][:40, -70:],
    }


@pytest.mark.parametrize("kind", KINDS)
def test_encoded_real_images_decode_with_spec_decoder(
    spec_decoder: ModuleType, golden_images: dict, kind: str
) -> None:
    for label, image in _crops(golden_images).items():
        data = encode_stream(image, kind)
        decoded = spec_decoder.decode(data, image.shape[1], image.shape[0], kind)
        assert np.array_equal(np.array(decoded, dtype=np.uint16).reshape(image.shape), image), label


def _edge_images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "all-zero": np.zeros((9, 11), np.uint16),
        "binary": rng.integers(0, 2, (16, 16)).astype(np.uint16),
        "max3": rng.integers(0, 4, (12, 10)).astype(np.uint16),
        "max7": rng.integers(0, 8, (8, 8)).astype(np.uint16),
        "constant-1000": np.full((20, 30), 1000, np.uint16),
        "1x1": np.array([[5]], np.uint16),
        "1x1-large": np.array([[60000]], np.uint16),
        "2x2-1..4": np.array([[1, 2], [3, 4]], np.uint16),
        "1xN-ramp": np.arange(50, dtype=np.uint16).reshape(1, 50) * 40,
        "Nx1-ramp": np.arange(50, dtype=np.uint16).reshape(50, 1) * 40,
        "noise12-64": rng.integers(0, 4096, (64, 64)).astype(np.uint16),
        "noise16-64": rng.integers(0, 65536, (64, 64)).astype(np.uint16),
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("label", sorted(_edge_images()))
def test_edge_cases_are_reference_decodable(spec_decoder: ModuleType, kind: str, label: str) -> None:
    image = _edge_images()[label]
    data = encode_stream(image, kind)
    decoded = spec_decoder.decode(data, image.shape[1], image.shape[0], kind)
    np.testing.assert_array_equal(np.array(decoded, dtype=np.uint16).reshape(image.shape), image)
