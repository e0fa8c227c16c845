"""``actlang export EXPR -o FILE [--format F]``: compile and write a module file."""

from __future__ import annotations

import argparse

from actlang.cli import dash_note
from actlang.cli.compile_cmd import add_arguments

HELP = "compile an activation and write it as a TorchScript, torch.export or ONNX file"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help=HELP,
        description="Compile EXPR and export it to FILE (the format from its name: .pt2 exported, .onnx onnx, "
        "else torchscript; --shape sets the rank of exported and onnx files); the file loads without actlang.",
        epilog=dash_note("export", "-x*sigmoid(x)", "-o f.pt"),
    )
    add_arguments(parser, output_required=True)
