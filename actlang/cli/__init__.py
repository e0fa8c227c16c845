"""The ``actlang`` command line: one module per subcommand, listed in ``COMMANDS``.

Exit codes (SPEC §8): 0 success, 1 a negative answer (e.g. not equivalent), 2 bad input.
Errors go to stderr with the caret display.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from actlang.errors import ActlangError

# Subcommand modules in actlang/cli/; each defines ``add_parser(subparsers)`` that registers
# itself with ``set_defaults(run=function)``, where ``function(args) -> int`` is the exit code.
COMMANDS = [
    "parse", "check", "list", "demo", "compile", "export", "enumerate", "simplify", "equiv", "diff", "plot", "search",
]

EXIT_OK, EXIT_NEGATIVE, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actlang",
        description="A small language for neural-network activation functions, and a compiler for it.",
        epilog="Run 'actlang COMMAND --help' for a command's options.\n"
        "Exit codes: 0 ok, 1 negative answer, 2 bad input.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"actlang.cli.{name}_cmd").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``actlang`` script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ActlangError as error:
        print(f"actlang: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `actlang list | head` should not print a traceback
        return EXIT_OK
