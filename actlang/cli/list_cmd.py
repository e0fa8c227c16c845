"""``actlang list``: the primitives table, derived from the registry."""

from __future__ import annotations

import argparse
import json

from actlang.registry import primitives

HELP = "list the primitives: signature, aliases, properties, AQuaSurF name, meaning"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "list",
        help=HELP,
        description="List every primitive actlang knows, from its one definition: signature with default "
        "hyperparameters, aliases, properties (pointwise or per-sample, learned, stochastic, opaque), "
        "AQuaSurF name and meaning.",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the table as JSON (with hyperparameter types)")
    output.add_argument("--markdown", action="store_true", help="print a Markdown table (as in docs/primitives.md)")
    parser.add_argument(
        "--aliases", action="store_true",
        help="list the names HF, timm and Keras 3 use (gelu_new, quick_gelu, ...) and their meaning",
    )
    parser.add_argument("names", metavar="NAME", nargs="*", help="only these primitives (aliases allowed)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from actlang.build import unknown_primitive
    from actlang.docs import alias_row, aliases_markdown, aliases_text, markdown_table, row, text_table
    from actlang.registry import COMPOSITES, lookup

    chosen, aliases = primitives(), list(COMPOSITES.values())
    if args.names:
        chosen, aliases = [], []
        for name in args.names:
            primitive = lookup(name)
            if primitive is not None:
                chosen.append(primitive)
            elif name in COMPOSITES:
                aliases.append(COMPOSITES[name])
            else:
                raise unknown_primitive(name, None)
    show_aliases = args.aliases or (args.names and aliases)
    if args.json:
        rows = [alias_row(a) for a in aliases] if args.aliases else [row(p) for p in chosen]
        rows += [alias_row(a) for a in aliases] if args.names and not args.aliases else []
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
    elif args.markdown:
        print(aliases_markdown(aliases) if args.aliases else markdown_table(chosen), end="")
    elif args.aliases:
        print(aliases_text(aliases), end="")
    else:
        if chosen:
            print(text_table(chosen), end="")
        if show_aliases:
            print(("\n" if chosen else "") + aliases_text(aliases), end="")
        elif not args.names:
            print(f"\n{len(aliases)} more names from HF, timm and Keras 3 (gelu_new, quick_gelu, ...): "
                  "actlang list --aliases")
    return 0
