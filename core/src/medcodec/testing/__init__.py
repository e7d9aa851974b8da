"""The conformance kit: what every medcodec codec plugin must pass.

Subclass :class:`CodecConformance` in ``plugins/<p>/tests/test_<p>_conformance.py``; see ``docs/dev/conformance.md``.
"""

from medcodec.testing.conformance import CodecConformance
from medcodec.testing.corpus import (
    CorpusImage,
    corpus_inventory,
    decodable,
    pydicom_test_files,
    pydicom_test_images,
)
from medcodec.testing.datasets import make_dataset
from medcodec.testing.golden import GoldenFrame, decode_golden, load_manifest, write_golden
from medcodec.testing.registry import isolated_registry, shared_dir

__all__ = [
    "CodecConformance",
    "CorpusImage",
    "GoldenFrame",
    "corpus_inventory",
    "decodable",
    "decode_golden",
    "isolated_registry",
    "load_manifest",
    "make_dataset",
    "pydicom_test_files",
    "pydicom_test_images",
    "shared_dir",
    "write_golden",
]
