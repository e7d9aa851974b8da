"""medcodec hook implementations of the Huffman file tool (entry-point target; stdlib + medcodec only).

This plugin registers no pixel codec: whole-file Huffman packing is not a DICOM transfer syntax. It only
adds the ``medcodec huffman`` command group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import medcodec

if TYPE_CHECKING:
    import click


@medcodec.hookimpl
def medcodec_register_commands(cli: click.Group) -> None:
    from medcodec_plugin_huffman.cli import huffman  # lazy: click commands load only for the CLI

    cli.add_command(huffman, "huffman")
