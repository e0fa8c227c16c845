"""The ``actlang`` command line: one module per subcommand, listed in ``COMMANDS``.

Exit codes (README.md): 0 success, 1 a negative answer (e.g. not equivalent), 2 bad input.
Errors go to stderr with the caret display.

Start-up: a command imports only its own module (and what its options need), so ``actlang parse``
starts without torch or sympy. ``actlang --help`` lists every command by its module's ``HELP`` line,
so each command module keeps its top-level imports light (the standard library, the parser) and
imports numpy, scipy, sympy or torch inside the functions that need them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from actlang.errors import ActlangError

# Subcommand modules in actlang/cli/; each defines ``add_parser(subparsers)`` that registers
# itself with ``set_defaults(run=function)``, where ``function(args) -> int`` is the exit code.
COMMANDS = [
    "parse", "check", "list", "demo", "compile", "export", "kernels", "enumerate", "simplify", "equiv", "diff", "plot",
    "search",
]

EXIT_OK, EXIT_NEGATIVE, EXIT_BAD_INPUT = 0, 1, 2


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser. With ``only``, that command's, complete (the others' modules are
    not even imported); without, the overview: every command with its ``HELP`` line but none of its
    options (``actlang --help``, and the usage errors of a line that names no command)."""
    from actlang import __version__

    parser = argparse.ArgumentParser(
        prog="actlang",
        description="A small language for neural-network activation functions, and a compiler for it.",
        epilog="Run 'actlang COMMAND --help' for a command's options.\n"
        "Exit codes: 0 ok, 1 negative answer, 2 bad input.",
    )
    parser.add_argument("--version", action="version", version=f"actlang {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if only is None:
        for name in COMMANDS:
            module = importlib.import_module(f"actlang.cli.{name}_cmd")
            overview = subparsers.add_parser(name, help=module.HELP, add_help=False)
            overview.add_argument("rest", nargs=argparse.REMAINDER)
    elif only:  # ``""`` (a bare ``--version``) needs no command's module
        importlib.import_module(f"actlang.cli.{only}_cmd").add_parser(subparsers)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # One line on stderr, like the errors: the user's input is at fault, not a line of actlang.
    print(f"actlang: warning: {message}", file=sys.stderr)


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names, when it names one before any option (the usual spelling);
    ``""`` (no command's module needed) for a bare ``--version``."""
    if argv and argv[0] in COMMANDS:
        return argv[0]
    return "" if list(argv) == ["--version"] else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``actlang`` script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command(argv)).parse_args(argv)
    if not hasattr(args, "run"):  # the overview picked a command (no known spelling does): use its own parser
        args = build_parser(args.command).parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.run(args)
    except ActlangError as error:
        print(f"actlang: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `actlang list | head` should not print a traceback
        return EXIT_OK
