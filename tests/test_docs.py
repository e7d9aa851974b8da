"""The documentation that comes from code is up to date, and every hook and codec is documented."""

from __future__ import annotations

import re
import subprocess
import sys

from medcodec import _plugins, hookspecs

from tests.conftest import ROOT


def test_generated_docs_are_up_to_date() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"], check=False, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_hook_has_a_section_in_the_hook_reference() -> None:
    text = (ROOT / "docs" / "dev" / "hooks.md").read_text()
    documented = set(re.findall(r"^## `(medcodec_\w+)`", text, flags=re.MULTILINE))
    specs = {name for name in dir(_plugins.plugin_manager().hook) if name.startswith("medcodec_")}
    assert specs == documented
    assert specs == {name for name in dir(hookspecs) if name.startswith("medcodec_")}


def test_every_codec_family_has_a_page() -> None:
    pages = {p.stem for p in (ROOT / "docs" / "codecs").glob("*.md")}
    for record in _plugins.plugin_records():
        if record.codecs and record.distribution != "(in-process)":
            family = "standard" if record.name == "standard" else record.name
            assert family in pages, f"docs/codecs/{family}.md is missing for plugin '{record.name}'"
