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
import re
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

    parser = _Parser(
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


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors add, where an argument starting with '-' was taken for
    an unknown option, how to pass it as an expression (``--``)."""

    def error(self, message: str):  # type: ignore[override]
        if _DASH_HINT and any(word in message for word in ("required", "unrecognized", "expected")):
            message += f" ({_DASH_HINT[0]})"
        super().error(message)


# Commands whose arguments (or option values: search --space, kernels --build) are expressions,
# which may start with '-'; those of them whose expressions are positional arguments ('--' helps).
DASH_COMMANDS = frozenset(COMMANDS) - {"list", "demo"}
HINT_COMMANDS = frozenset({"parse", "check", "simplify", "equiv", "diff", "compile", "export", "plot", "enumerate"})
_DASH_HINT: list[str] = []  # for a usage error: how to pass the first argument argparse reads as an option
# What argparse reads as a negative number (a positional) by itself.
_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")
# A dash-led argument that reads as an expression: it holds x, a call, an operator or a number.
_EXPRESSION = re.compile(r"[()*/+^.\d-]|\bx\b")


def _parse(parser: argparse.ArgumentParser, argv: list[str], command: str | None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, where an argument that starts with '-' but is no option and reads
    as an expression (``-x``, ``-relu(x)``, ``-2*x``) is taken as an argument, not as an unknown
    option: ``actlang parse -x`` and ``actlang equiv '-x*sigmoid(x)' 'silu(x)'`` work as meant.
    After ``--`` argparse takes everything as arguments anyway."""
    options = _options(parser) if command in DASH_COMMANDS else {}
    rewritten: dict[str, str] = {}
    given: list[str] = []
    _DASH_HINT.clear()
    for position, arg in enumerate(argv):
        if arg == "--":
            given += argv[position:]
            break
        if options and _expression_like(arg, options):
            # A leading space: argparse no longer sees an option; the space is taken off below.
            rewritten[" " + arg] = arg
            arg = " " + arg
        elif (command in HINT_COMMANDS and not _DASH_HINT and len(arg) > 1 and arg[0] == "-" != arg[1]
              and arg[:2] not in options):
            _DASH_HINT.append(f"an expression starting with '-' needs '--' before it: actlang {command} -- {arg}")
        given.append(arg)
    args = parser.parse_args(given)
    if rewritten:
        for key, value in vars(args).items():
            if isinstance(value, str):
                setattr(args, key, rewritten.get(value, value))
            elif isinstance(value, list):
                setattr(args, key, [rewritten.get(v, v) if isinstance(v, str) else v for v in value])
    return args


def _options(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """Every option string of ``parser`` and its subcommands: whether it takes a value."""
    found: dict[str, bool] = {}
    for action in parser._actions:
        for option in action.option_strings:
            found[option] = action.nargs != 0
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _options(sub)
    return found


def _expression_like(arg: str, options: dict[str, bool]) -> bool:
    """An argument starting with one '-' that is neither an option (``-o``, ``-ofile``, ``-qh``) nor a
    number argparse already takes, and reads as an expression."""
    if len(arg) < 2 or arg[0] != "-" or arg[1] == "-" or arg in options or _NUMBER.match(arg):
        return False
    if arg[:2] in options:  # a short option with its value attached (-ofile), or short flags run together
        if options[arg[:2]] or all(f"-{letter}" in options for letter in arg[1:]):
            return False
    return bool(_EXPRESSION.search(arg[1:]))


def dash_note(command: str, example: str = "-x*sigmoid(x)", options: str = "") -> str:
    """The help line on expressions that start with '-' (``options``: what the command needs besides)."""
    more = f" {options}" if options else ""
    return (f"An expression may start with '-' (actlang {command} '{example}'{more}); after '--' every argument "
            f"is read as one, never as an option: actlang {command}{more} -- -x")


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
    command = _command(argv)
    args = _parse(build_parser(command), argv, command)
    if not hasattr(args, "run"):  # the overview picked a command (no known spelling does): use its own parser
        args = _parse(build_parser(args.command), argv, args.command)
    stdout = sys.stdout
    sys.stdout = _Stdout(stdout)  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = args.run(args)
        sys.stdout.flush()  # a failed write of buffered output fails here, not at exit
        return code
    except ActlangError as error:
        print(f"actlang: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `actlang list | head` should not print a traceback
        _detach(stdout)
        return EXIT_OK
    except OSError as error:  # a full disk, /dev/full, a missing file: one line, not a traceback
        if isinstance(error, StdoutError):
            _detach(stdout)
        print(f"actlang: {_os_error(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        if isinstance(sys.stdout, _Stdout):
            sys.stdout = stdout


class StdoutError(OSError):
    """Writing the standard output failed (a full disk, ``> /dev/full``)."""


class _Stdout:
    """``sys.stdout`` while a command runs: the same stream, except that a failed write raises
    :class:`StdoutError`, so that the error can say it was the output (a closed pipe stays a
    ``BrokenPipeError``)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise StdoutError(error.errno, error.strerror) from error

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise StdoutError(error.errno, error.strerror) from error

    def __getattr__(self, name: str):
        if name == "_stream":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self._stream, name)


def _os_error(error: OSError) -> str:
    """One line for an OSError (naming the file, when it has one)."""
    reason = error.strerror or str(error) or type(error).__name__
    if isinstance(error, StdoutError):
        return f"cannot write to standard output: {reason}"
    if error.filename:
        return f"{type(error).__name__}: '{error.filename}': {reason}"
    return f"{type(error).__name__}: {reason}"


def _detach(stdout) -> None:
    """Point standard output at the null device, so that what it still buffers is dropped quietly
    at exit instead of failing again there (Python's recipe for a closed pipe)."""
    import os

    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture): nothing to do
        pass
