"""``actlang diff EXPR [--wrt NAME]``: the derivative, simplified, in actlang terms."""

from __future__ import annotations

import argparse
import json

from actlang.cli import dash_note
from actlang.parser import parse
from actlang.printer import format_expr

HELP = "differentiate an activation (d/dx, or d/dNAME for a learned scalar)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help=HELP,
        description="Print d EXPR / d NAME in actlang terms (registry primitives only, so it compiles). "
        "Kinks take PyTorch's autograd values (relu'(0) = 0).",
        epilog="example: actlang diff 'x * sigmoid(beta * x)' --wrt beta. " + dash_note("diff", "-x*sigmoid(x)"),
    )
    parser.add_argument("expr", metavar="EXPR", help="activation text")
    parser.add_argument("--wrt", default="x", metavar="NAME", help="x (default) or a learned scalar's name")
    parser.add_argument("--json", action="store_true", help="print input and derivative as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from actlang.symbolic import derivative

    expr = parse(args.expr)
    result = derivative(expr, args.wrt)
    if args.json:
        print(json.dumps({"input": format_expr(expr), "wrt": args.wrt, "derivative": format_expr(result)}))
    else:
        print(format_expr(result))
    return 0
