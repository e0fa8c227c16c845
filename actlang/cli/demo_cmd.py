"""``actlang demo`` (what ``make demo`` runs): a tour of actlang on activations from the papers.

The tour is made of sections, one module each in ``actlang/demos/`` with a ``TITLE``, an ``ORDER``
and ``run(out)``; they are discovered, so a feature adds its section by adding a module.
"""

from __future__ import annotations

import argparse
import sys

from actlang.demos import run_sections, sections

HELP = "a short tour: parse, format, evaluate and list activations from the papers"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=HELP,
        description="Run the tour of actlang on activations from the four papers (AQuaSurF, AdAct, ASH, "
        "DiTAC). Each section shows one feature; --section runs some of them.",
    )
    parser.add_argument("--section", action="append", metavar="NAME",
                        help="run only this section (repeatable); see --list")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.list:
        for name, module in sections():
            print(f"{name:<16} {module.TITLE}")
        return 0
    return run_sections(args.section, sys.stdout)
