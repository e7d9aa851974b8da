"""ISO/IEC 15444-4 HTJ2K conformance codestreams, decoded by the plugin's decoder (``codec.decode_exact``).

The codestreams and their reference images are not redistributable here and no PyPI or Debian package ships
them, so this module runs only when ``MEDCODEC_HTJ2K_CONFORMANCE_DIR`` names a folder holding the ``ds0_ht_*``,
``ds1_ht_*`` and ``hifi_ht1_02`` codestreams with the reference PGX images in ``references/`` (the layout of
the ``conformance_data`` folder of the OpenHTJ2K repository). See docs/codecs/htj2k.md for the results.

Each decodable component must stay within the standard's peak absolute error and mean squared error; each
codestream our libraries cannot decode must still fail with an error -- when a library update makes it
decodable, this test fails so that the table (and the docs) get updated.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from medcodec_plugin_htj2k import codec, codestream

CONFORMANCE_DIR = os.environ.get("MEDCODEC_HTJ2K_CONFORMANCE_DIR")
pytestmark = pytest.mark.skipif(not CONFORMANCE_DIR, reason="set MEDCODEC_HTJ2K_CONFORMANCE_DIR to the folder "
                                "with the ISO/IEC 15444-4 HTJ2K codestreams and references/ (not shipped)")

#: (codestream, component, reference image, peak absolute error limit, MSE limit) -- decodable today.
DECODABLE = [
    ("ds0_ht_01_b11.j2k", 0, "c1p0_01-0.pgx", 0, 0.0),
    ("ds0_ht_09_b11.j2k", 0, "c1p0_09-0.pgx", 0, 0.0),
    ("ds0_ht_11_b10.j2k", 0, "c1p0_11-0.pgx", 0, 0.0),
    ("ds0_ht_12_b11.j2k", 0, "c1p0_12-0.pgx", 0, 0.0),
    ("ds0_ht_14_b11.j2k", 0, "c1p0_14-0.pgx", 0, 0.0),
    ("ds0_ht_14_b11.j2k", 1, "c1p0_14-1.pgx", 0, 0.0),
    ("ds0_ht_14_b11.j2k", 2, "c1p0_14-2.pgx", 0, 0.0),
    ("ds1_ht_04_b9.j2k", 0, "c1p1_04-0.pgx", 624, 3080.0),
    ("ds1_ht_05_b11.j2k", 0, "c1p1_05-0.pgx", 40, 8.458),
    ("ds1_ht_05_b11.j2k", 1, "c1p1_05-1.pgx", 40, 9.716),
    ("ds1_ht_05_b11.j2k", 2, "c1p1_05-2.pgx", 40, 10.154),
    ("ds1_ht_06_b11.j2k", 0, "c1p1_06-0.pgx", 2, 0.6),
    ("ds1_ht_06_b11.j2k", 1, "c1p1_06-1.pgx", 2, 0.6),
    ("ds1_ht_06_b11.j2k", 2, "c1p1_06-2.pgx", 2, 0.6),
    ("hifi_ht1_02.j2k", 0, "hifi-0.pgx", 47, 82.0),
    ("hifi_ht1_02.j2k", 1, "hifi-1.pgx", 36, 65.0),
    ("hifi_ht1_02.j2k", 2, "hifi-2.pgx", 42, 86.0),
]

MULTI_LAYER = "several quality layers (with other features): OpenJPH 0.26 and OpenJPEG 2.5.4 both refuse it"
#: codestream -> why neither OpenJPH (imagecodecs) nor OpenJPEG (pylibjpeg-openjpeg) decodes it.
UNDECODABLE = {
    **{name: MULTI_LAYER for name in (
        "ds0_ht_02_b11.j2k", "ds0_ht_02_b12.j2k", "ds0_ht_03_b11.j2k", "ds0_ht_03_b14.j2k", "ds0_ht_04_b11.j2k",
        "ds0_ht_04_b12.j2k", "ds0_ht_05_b11.j2k", "ds0_ht_05_b12.j2k", "ds0_ht_06_b11.j2k", "ds0_ht_06_b15.j2k",
        "ds0_ht_06_b18.j2k", "ds0_ht_07_b11.j2k", "ds0_ht_08_b11.j2k", "ds0_ht_10_b11.j2k", "ds0_ht_15_b11.j2k",
        "ds0_ht_15_b14.j2k", "ds0_ht_16_b11.j2k", "ds1_ht_01_b11.j2k", "ds1_ht_01_b12.j2k", "ds1_ht_02_b11.j2k",
        "ds1_ht_02_b12.j2k", "ds1_ht_03_b11.j2k", "ds1_ht_03_b12.j2k")},
    "ds0_hm_06_b11.j2k": "mixed HT and Part-1 code-blocks (code-block style 0xC0) and 4 layers",
    "ds0_hm_06_b18.j2k": "mixed HT and Part-1 code-blocks (code-block style 0xC0) and 4 layers",
    "ds0_hm_15_b8.j2k": "mixed HT and Part-1 code-blocks (code-block style 0xC0) and 8 layers",
    "ds0_ht_13_b11.j2k": "257 components",
    "ds1_ht_07_b11.j2k": "sub-sampled components",
}


def read_pgx(path: Path) -> np.ndarray:
    """A PGX reference image: ``PG ML|LM [+|-] depth width height`` then the raw samples."""
    data = path.read_bytes()
    end = data.index(b"\n")
    match = re.fullmatch(rb"PG\s+(ML|LM)\s*([+-]?)\s*(\d+)\s+(\d+)\s+(\d+)\s*", data[:end])
    assert match, f"{path} is not a PGX image"
    order, sign, depth, width, height = match.groups()
    size = 1 if int(depth) <= 8 else 2 if int(depth) <= 16 else 4
    dtype = np.dtype(f"{'>' if order == b'ML' else '<'}{'i' if sign == b'-' else 'u'}{size}")
    count = int(width) * int(height)
    return np.frombuffer(data[end + 1: end + 1 + count * size], dtype).reshape(int(height), int(width))


def _folder() -> Path:
    folder = Path(str(CONFORMANCE_DIR))
    assert folder.is_dir(), f"MEDCODEC_HTJ2K_CONFORMANCE_DIR={folder} is not a folder"
    return folder


@pytest.mark.parametrize(("name", "component", "reference", "peak", "mse"), DECODABLE)
def test_decodable_codestreams_meet_the_tolerances(name: str, component: int, reference: str, peak: int,
                                                   mse: float) -> None:
    folder = _folder()
    stream = (folder / name).read_bytes()
    decoded = codec.decode_exact(stream, codestream.parse(stream))
    plane = decoded[..., component] if decoded.ndim == 3 else decoded
    expected = read_pgx(folder / "references" / reference)
    diff = plane.astype(np.int64) - expected.astype(np.int64)
    assert int(np.abs(diff).max()) <= peak
    assert float(np.mean(diff.astype(np.float64) ** 2)) <= mse


@pytest.mark.parametrize("name", sorted(UNDECODABLE))
def test_undecodable_codestreams_still_fail(name: str) -> None:
    path = _folder() / name
    if not path.is_file():
        pytest.skip(f"{name} is not in the folder")
    stream = path.read_bytes()
    with pytest.raises(codec.Htj2kCodecError):
        codec.decode_exact(stream, codestream.parse(stream))
