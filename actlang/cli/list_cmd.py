"""``actlang list``: the primitives table, derived from the registry."""

from __future__ import annotations

import argparse
import json

from actlang.docs import markdown_table, row, text_table
from actlang.registry import primitives


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list the primitives: signature, aliases, properties, AQuaSurF name, meaning",
        description="List every primitive actlang knows, from its one definition: signature with default "
        "hyperparameters, aliases, properties (pointwise or per-sample, learned, stochastic, opaque), "
        "AQuaSurF name and meaning.",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the table as JSON (with hyperparameter types)")
    output.add_argument("--markdown", action="store_true", help="print a Markdown table (as in docs/primitives.md)")
    parser.add_argument("names", metavar="NAME", nargs="*", help="only these primitives (aliases allowed)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from actlang.build import unknown_primitive
    from actlang.registry import lookup

    chosen = primitives()
    if args.names:
        chosen = []
        for name in args.names:
            primitive = lookup(name)
            if primitive is None:
                raise unknown_primitive(name, None)
            chosen.append(primitive)
    if args.json:
        print(json.dumps([row(p) for p in chosen], indent=2, ensure_ascii=False, default=str))
    elif args.markdown:
        print(markdown_table(chosen), end="")
    else:
        print(text_table(chosen), end="")
    return 0
