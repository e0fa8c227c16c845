"""``actlang parse EXPR``: print the canonical text (or the tree as JSON)."""

from __future__ import annotations

import argparse
import json

from actlang.ast import Call, Constant, Expr, Input, Num, Param
from actlang.cli import dash_note
from actlang.cli.check_cmd import add_dialect
from actlang.constant import require_input
from actlang.parser import parse
from actlang.printer import format_expr

HELP = "parse an activation and print its canonical text"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "parse",
        help=HELP,
        description="Parse EXPR and print its canonical text: infix with minimal parentheses, "
        "canonical names, default hyperparameters omitted.",
        epilog="example: actlang parse 'add(relu(x),swish(x))'. " + dash_note("parse", "-x*sigmoid(x)"),
    )
    parser.add_argument("expr", metavar="EXPR", help="activation text, e.g. 'add(relu(x),swish(x))'")
    parser.add_argument("--style", choices=["actlang", "aquasurf"], default="actlang", help="output spelling")
    parser.add_argument("--json", action="store_true", help="print the syntax tree as JSON")
    add_dialect(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    expr = parse(args.expr, dialect=args.dialect)
    require_input(expr, warn=True)  # a constant is valid text: told on stderr, not refused
    if args.json:
        print(json.dumps({"canonical": format_expr(expr), "tree": to_json(expr)}, indent=2))
    else:
        print(format_expr(expr, args.style))
    return 0


def to_json(expr: Expr) -> dict:
    """The tree as plain JSON-able dicts (one ``node`` key naming the node type)."""
    match expr:
        case Num(value=value):
            return {"node": "num", "value": value}
        case Input():
            return {"node": "input"}
        case Constant(name=name):
            return {"node": "constant", "name": name}
        case Param(name=name, init=init):
            return {"node": "param", "name": name, "init": init}
        case Call(name=name, args=args, hyper=hyper):
            return {"node": "call", "name": name, "hyper": dict(hyper), "args": [to_json(a) for a in args]}
    raise TypeError(f"not an actlang expression: {expr!r}")
