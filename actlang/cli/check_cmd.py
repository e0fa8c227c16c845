"""``actlang check EXPR... | -``: validate activations; exit 0 if all are valid, 2 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from actlang.cli import dash_note
from actlang.constant import require_input
from actlang.errors import ActlangError
from actlang.parser import parse
from actlang.printer import format_expr

HELP = "validate one or more activations (or lines of stdin with '-')"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help=HELP,
        description="Validate each EXPR: print 'ok' and its canonical text, or the error with a caret under "
        "the fault (on stderr). With '-', read one activation per line from stdin (blank lines skipped). "
        "Exit 0 if all are valid, 2 otherwise.",
        epilog="example: actlang check 'erfc(softplus(x))^2' 'add(relu(x),swish(x))'. "
        + dash_note("check", "-x*sigmoid(x)"),
    )
    parser.add_argument("exprs", metavar="EXPR", nargs="+", help="activation text, or '-' for stdin lines")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    add_dialect(parser)
    parser.add_argument(
        "--allow-constant", action="store_true",
        help="accept activations that never use x (by default an error: 'relu(z)', 'GELU')",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per input, as a JSON list")
    parser.set_defaults(run=run)


def inputs(exprs: list[str]) -> list[tuple[str, str]]:
    """``(label, text)`` pairs: arguments as given, ``-`` expanded to stdin's non-blank lines."""
    found = []
    for position, expr in enumerate(exprs, 1):
        if expr == "-":
            found += [(f"stdin:{n}", line.rstrip("\n")) for n, line in enumerate(sys.stdin, 1) if line.strip()]
        else:
            found.append((f"arg {position}", expr))
    return found


def add_dialect(parser: argparse.ArgumentParser) -> None:
    """``--dialect LIB``: read library names as that library does (shared by parse and check)."""
    from actlang.registry import DIALECTS

    parser.add_argument(
        "--dialect", choices=["actlang", *DIALECTS], default=None,
        help="read names as this library does where they differ (hard_sigmoid, leaky_relu)",
    )


def check(text: str, dialect: str | None = None, allow_constant: bool = False) -> dict:
    """The verdict on one activation, as plain data (warnings included)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            expr = parse(text, dialect=dialect)
        require_input(expr, allow_constant=allow_constant)
    except ActlangError as error:
        return {
            "input": text, "valid": False,
            "error": {"type": type(error).__name__, "message": error.message, "line": error.line,
                      "column": error.column, "hint": error.hint, "display": str(error)},
        }
    result = {"input": text, "valid": True, "canonical": format_expr(expr)}
    if caught:
        result["warnings"] = [str(w.message) for w in caught]
    return result


def run(args: argparse.Namespace) -> int:
    results = [(label, check(text, args.dialect, args.allow_constant)) for label, text in inputs(args.exprs)]
    if args.json:
        print(json.dumps([result for _, result in results], indent=2, ensure_ascii=False))
    else:
        for label, result in results:
            if result["valid"]:
                if not args.quiet:
                    print(f"ok  {result['canonical']}")
                for warning in result.get("warnings", []):
                    print(f"actlang: {label}: warning: {warning}", file=sys.stderr)
            else:
                error = result["error"]
                print(f"actlang: {label}: {error['type']}: {error['display']}", file=sys.stderr)
    return 0 if all(result["valid"] for _, result in results) else 2
