"""Discovery: the distribution is found through its entry point, adds a command and registers no codec."""

from __future__ import annotations

import medcodec


def test_plugin_is_discovered_with_its_command_hook_only() -> None:
    entries = [p for p in medcodec.list_plugins() if p["name"] == "huffman"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["distribution"] == "medcodec-plugin-huffman"
    assert entry["error"] is None
    assert entry["hooks"] == ["medcodec_register_commands"]
    assert entry["codecs"] == []  # whole-file packing is not a transfer syntax
