"""``actlang enumerate TEMPLATE``: expand a search-space template, optionally deduplicated."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

from actlang.cli import dash_note
from actlang.errors import AmbiguousNameWarning

if TYPE_CHECKING:
    from actlang.search.dedup import EquivalenceClass

HELP = "expand a search-space template (AQuaSurF's), optionally deduplicated"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    # Here, not at the top: `actlang --help` imports this module and needs none of it (scipy).
    from actlang.search import BYS, PRESETS, SYMMETRIES
    from actlang.search.space import AQUASURF_BINARY, AQUASURF_NARY, AQUASURF_UNARY

    parser = subparsers.add_parser(
        "enumerate",
        help=HELP,
        description="Expand TEMPLATE (placeholders unary, binary, n-ary) over the operator sets, in "
        "AQuaSurF's order and spelling. --unique groups the strings into equivalence classes.",
        epilog="presets: " + "; ".join(f"{p.name}: {p.doc}" for p in PRESETS.values()) + ". "
        + dash_note("enumerate", "-unary(x)"),
    )
    parser.add_argument("template", metavar="TEMPLATE", nargs="?", help="e.g. 'binary(unary(x),unary(x))'")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a named search space (added before TEMPLATE)")
    parser.add_argument(
        "--unary", type=_names, help=f"comma-separated unary operators (default: AQuaSurF's {len(AQUASURF_UNARY)})"
    )
    parser.add_argument("--binary", type=_names, help=f"binary operators (default: AQuaSurF's {len(AQUASURF_BINARY)})")
    parser.add_argument("--nary", type=_names, help=f"n-ary operators (default: AQuaSurF's {len(AQUASURF_NARY)})")
    parser.add_argument(
        "--unique",
        choices=BYS,
        help="group equivalent functions: outputs (AQuaSurF's "
        "bit-identical float32 rule), numeric (tolerance), symbolic (sympy proofs)",
    )
    parser.add_argument(
        "--symmetry",
        choices=SYMMETRIES,
        default="none",
        help="with --unique: also fold f with -f (negation) or every sign flip (sign)",
    )
    parser.add_argument("--format", choices=["csv", "json", "jsonl"], default="csv", help="output format")
    parser.add_argument("--json", action="store_const", dest="format", const="json", help="same as --format json")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument(
        "--count", action="store_true",
        help="print only the numbers, labelled: strings (and classes, and what --valid dropped); --json for tools",
    )
    parser.add_argument(
        "--valid", action="store_true",
        help="drop degenerate functions: constant or non-finite (NaN/inf) on AQuaSurF's 1,000 points",
    )
    parser.add_argument("--progress", action="store_true", default=None, help="show a progress bar on stderr")
    parser.set_defaults(run=run)


def _names(text: str) -> list[str]:
    # Split on commas outside brackets, so 'leaky_relu[slope=0.2],relu' is two operators.
    names, depth, current = [], 0, ""
    for char in text:
        depth += (char in "[(" and 1) or (-1 if char in "])" else 0)
        if char == "," and depth == 0:
            names.append(current.strip())
            current = ""
        else:
            current += char
    names.append(current.strip())
    return [n for n in names if n]


def run(args: argparse.Namespace) -> int:
    # The operator names are AQuaSurF's (its dialect: hard_sigmoid is Keras 2's), nothing to warn about.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AmbiguousNameWarning)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from actlang.search import deduplicate, space
    from actlang.search.space import AQUASURF_BINARY, AQUASURF_NARY, AQUASURF_UNARY

    ops = {
        "unary": args.unary or AQUASURF_UNARY,
        "binary": args.binary or AQUASURF_BINARY,
        "nary": args.nary or AQUASURF_NARY,
    }
    searched = space(args.template, **ops, preset=args.preset)
    if args.symmetry != "none" and not args.unique:
        print("actlang: --symmetry needs --unique", file=sys.stderr)
        return 2
    start = time.perf_counter()
    result = (
        deduplicate(searched, by=args.unique, symmetry=args.symmetry, progress=args.progress) if args.unique else None
    )
    names: Iterable[str] = iter(searched)
    classes = None if result is None else result.classes
    dropped: dict[str, int] = {}
    kept: list = []
    if args.valid:
        if classes is None:
            kept, dropped = keep_valid(list(searched))
            names = kept
        else:
            kept_classes, dropped = keep_valid([c.representative for c in classes], classes)
            classes = kept_classes
    if args.count:
        if classes is None:
            counts: dict = {"strings": len(kept) if args.valid else len(searched)}
        else:  # the strings in the (kept) classes
            counts = {"strings": sum(len(c) for c in classes), "classes": len(classes), "by": args.unique,
                      "symmetry": args.symmetry}
        if args.valid:
            counts["dropped"] = dropped
        _print_counts(counts, args.format == "json")
        return 0
    with _open(args.output) as stream:
        if classes is None:
            _write_names(stream, names, args.format)
        else:
            _write_classes(stream, classes, args.format)
    if result is not None:
        seconds = time.perf_counter() - start
        valid = f", {len(classes):,} valid" if args.valid and classes is not None else ""
        print(
            f"{len(searched):,} strings, {len(result):,} classes{valid} ({args.unique}, symmetry {args.symmetry}) "
            f"in {seconds:.1f} s",
            file=sys.stderr,
        )
    return 0


CHUNK = 20_000  # names evaluated at a time for --valid: 20,000 × 1,000 float32 outputs = 80 MB


def keep_valid(names: list[str], items: list | None = None) -> tuple[list, dict[str, int]]:
    """``items`` (default ``names``) whose function (``names[i]``) is neither constant nor
    non-finite on AQuaSurF's points, and how many of each kind were dropped."""
    import numpy as np

    from actlang.search import features

    items = names if items is None else items
    constant = np.zeros(len(names), bool)
    nonfinite = np.zeros(len(names), bool)
    for lo in range(0, len(names), CHUNK):
        rows = features(names[lo : lo + CHUNK])
        finite = np.isfinite(rows).all(axis=1)
        nonfinite[lo : lo + CHUNK] = ~finite
        constant[lo : lo + CHUNK] = finite & (rows == rows[:, :1]).all(axis=1)
    keep = ~(constant | nonfinite)
    return [item for item, k in zip(items, keep.tolist(), strict=True) if k], {
        "constant": int(constant.sum()), "non-finite": int(nonfinite.sum()),
    }


def _print_counts(counts: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(counts))
        return
    print(f"strings: {counts['strings']}")
    if "classes" in counts:
        print(f"classes: {counts['classes']} (by {counts['by']}, symmetry {counts['symmetry']})")
    for kind, number in counts.get("dropped", {}).items():
        print(f"dropped {kind}: {number}" + (" classes" if "classes" in counts else " strings"))


@contextlib.contextmanager
def _open(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        with open(path, "w", newline="", encoding="utf-8") as stream:
            yield stream
    except OSError as error:  # the folder is missing, the disk is full: one line, not a traceback
        from actlang.errors import ActlangError

        raise ActlangError(f"cannot write '{path}': {error.strerror or error}") from None


def _write_names(stream: TextIO, names: Iterable[str], fmt: str) -> None:
    if fmt == "json":
        json.dump(list(names), stream, indent=0)
        stream.write("\n")
        return
    if fmt == "csv":
        stream.write("name\n")
    for name in names:  # AQuaSurF strings hold commas: quote them in CSV
        stream.write((f'"{name}"' if fmt == "csv" else json.dumps(name)) + "\n")


def _write_classes(stream: TextIO, classes: list[EquivalenceClass], fmt: str) -> None:
    records = (
        {
            "representative": c.representative,
            "size": len(c),
            "members": list(c.members),
            "transforms": list(c.transforms),
        }
        for c in classes
    )
    if fmt == "json":
        json.dump(list(records), stream)
        stream.write("\n")
    elif fmt == "jsonl":
        for record in records:
            stream.write(json.dumps(record) + "\n")
    else:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["representative", "size", "members", "transforms"])
        for record in records:
            writer.writerow([record["representative"], record["size"], " ".join(record["members"]),
                             " ".join(record["transforms"])])
