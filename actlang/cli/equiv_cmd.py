"""``actlang equiv A B [--symmetry none|negation|sign]``: exit 0 equivalent, 1 different, 2 bad input."""

from __future__ import annotations

import argparse
import json

from actlang.parser import parse

HELP = "decide whether two activations are the same function"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "equiv",
        help=HELP,
        description="Compare A and B. Verdicts: 'proved' (a sympy proof), 'numeric' (equal on a dense "
        "deterministic probe, no proof within the budget), 'different' (a counterexample x, confirmed). "
        "Exit 0 for proved or numeric, 1 for different, 2 for bad input.",
        epilog="example: actlang equiv 'tanh(x)' '2*sigmoid(2*x) - 1'. An expression may start with '-' "
        "(actlang equiv '-x*sigmoid(-x)' 'x*sigmoid(x) - x'); after '--' every argument is read as one, never "
        "as an option: actlang equiv -- -x 'negative(x)'",
    )
    parser.add_argument("a", metavar="A", help="first activation")
    parser.add_argument("b", metavar="B", help="second activation")
    parser.add_argument(
        "--symmetry", choices=["none", "negation", "sign"], default="none",
        help="also accept -B(x) (negation) or every sign flip of B (sign)",
    )
    parser.add_argument("--budget", type=float, default=2.0, help="seconds for the proof attempt (default 2)")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from actlang.symbolic import equivalent

    result = equivalent(parse(args.a), parse(args.b), args.symmetry, budget=args.budget)
    if args.json:
        print(json.dumps(result.to_dict()))
    elif result.verdict == "different":
        a, b = result.values or (float("nan"), float("nan"))
        where = f"x = {result.counterexample!r}" + "".join(f", {k} = {v!r}" for k, v in result.params.items())
        print(f"different: at {where}, A = {a!r} and B = {b!r}" + (f"; {result.note}" if result.note else ""))
    else:
        how = "proved" if result.verdict == "proved" else "numeric (no difference on the probe; not proved)"
        print(how + ("" if result.transform in (None, "f(x)") else f" with A = {result.transform}, f = B"))
    return 0 if result else 1
