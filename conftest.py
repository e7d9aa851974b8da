"""Root pytest configuration: the golden-file regeneration switch used by the conformance kit."""


def pytest_addoption(parser):  # noqa: ANN001, ANN201
    parser.addoption("--medcodec-regen-golden", action="store_true", default=False,
                     help="rewrite golden MANIFEST.json hashes (never done automatically)")
