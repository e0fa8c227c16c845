"""``actlang simplify EXPR``: the shortest equivalent form found, in actlang terms."""

from __future__ import annotations

import argparse
import json

from actlang.cli import dash_note
from actlang.parser import parse
from actlang.printer import format_expr

HELP = "simplify an activation (sympy), printed back with primitives recognised"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simplify",
        help=HELP,
        description="Simplify EXPR with sympy and print it in actlang terms, recognising primitives "
        "(x*sigmoid(x) -> silu(x), max(x, 0) -> relu(x)). The result is never longer than EXPR and "
        "evaluates equal to it on the equivalence probe, domain included.",
        epilog="example: actlang simplify 'x * tanh(log(1 + exp(x)))'. " + dash_note("simplify", "-x*-sigmoid(x)"),
    )
    parser.add_argument("expr", metavar="EXPR", help="activation text")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds sympy may spend (default 2)")
    parser.add_argument("--json", action="store_true", help="print input and result as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from actlang.symbolic import simplify

    expr = parse(args.expr)
    result = simplify(expr, budget=args.budget)
    if args.json:
        print(json.dumps({"input": format_expr(expr), "simplified": format_expr(result)}))
    else:
        print(format_expr(result))
    return 0
