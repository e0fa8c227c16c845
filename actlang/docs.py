"""The primitives table, derived from the registry: rows for ``actlang list`` and docs/primitives.md.

``python -m actlang.docs`` (``make docs``) rewrites ``docs/primitives.md``; ``--check`` exits 1
when the committed file is out of date. Nothing here is typed twice: every cell comes from a
:class:`~actlang.registry.Primitive` record.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from actlang.registry import COMPOSITES, DIALECTS, LIBRARY_NAMES, NOT_POINTWISE, Alias, Primitive, primitives

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "primitives.md"


def properties(primitive: Primitive) -> list[str]:
    """Short flags: pointwise or per-sample, learned, stochastic, opaque (no sympy form)."""
    flags = ["pointwise" if primitive.pointwise else "per-sample"]
    if primitive.stateful:
        flags.append("learned")
    if primitive.stochastic:
        flags.append("stochastic")
    if primitive.opaque:
        flags.append("opaque")
    return flags


def row(primitive: Primitive) -> dict:
    """One primitive as plain data (the ``--json`` form of ``actlang list``)."""
    return {
        "name": primitive.name,
        "signature": primitive.signature(),
        "aliases": list(primitive.aliases),
        "infix": primitive.infix,
        "properties": properties(primitive),
        "aquasurf": primitive.aquasurf,
        "hyperparameters": [
            {"name": h.name, "type": h.describe(), "default": None if h.default is _required() else h.default}
            for h in primitive.hyper
        ],
        "learned": [
            {"name": lt.name, "init": lt.init if not callable(lt.init) else "depends on hyperparameters"}
            for lt in primitive.learned
        ],
        "doc": primitive.doc,
        "source": primitive.source,
    }


def _required() -> object:
    from actlang.registry import REQUIRED

    return REQUIRED


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _prose(text: str) -> str:
    """A cell of plain text: ``elu[α=1.67](x)`` must not read as a Markdown link."""
    return _cell(text).replace("[", "\\[")


def markdown_table(items: list[Primitive] | None = None) -> str:
    """A GitHub-flavoured Markdown table of ``items`` (default: every primitive)."""
    lines = [
        "| primitive | aliases | properties | AQuaSurF | meaning | source |",
        "|---|---|---|---|---|---|",
    ]
    for p in items if items is not None else primitives():
        aliases = ", ".join(f"`{a}`" for a in p.aliases) + (f" (infix `{p.infix}`)" if p.infix else "")
        aquasurf = f"`{p.aquasurf}`" if p.aquasurf else ""
        lines.append(
            f"| `{_cell(p.signature())}` | {aliases} | {', '.join(properties(p))} | {aquasurf} "
            f"| {_prose(p.doc)} | {_prose(p.source)} |"
        )
    return "\n".join(lines) + "\n"


def text_table(items: list[Primitive] | None = None, width: int = 44) -> str:
    """A plain aligned table for terminals: signature (and aliases), properties, AQuaSurF name,
    meaning. A signature longer than ``width`` gets a line of its own."""
    rows = []
    for p in items if items is not None else primitives():
        signature = p.signature() + (f" = {', '.join(p.aliases)}" if p.aliases else "")
        rows.append((signature, ",".join(properties(p)), p.aquasurf or "-", p.doc))
    flags = max([len(r[1]) for r in rows] + [10])
    names = max([len(r[2]) for r in rows] + [8])
    sig = min(width, max([len(r[0]) for r in rows] + [9]))
    lines = [f"{'SIGNATURE':<{sig}}  {'PROPERTIES':<{flags}}  {'AQUASURF':<{names}}  MEANING"]
    for signature, flag, name, doc in rows:
        if len(signature) > sig:
            lines.append(signature)
            signature = ""
        lines.append(f"{signature:<{sig}}  {flag:<{flags}}  {name:<{names}}  {doc}".rstrip())
    return "\n".join(lines) + "\n"


def alias_row(alias: Alias) -> dict:
    """One name from another library as plain data (``actlang list --json``)."""
    return {"name": alias.name, "means": alias.text, "doc": alias.doc, "source": alias.source}


def composites(items: list[Alias] | None = None) -> list[Alias]:
    return list(COMPOSITES.values()) if items is None else items


def aliases_markdown(items: list[Alias] | None = None) -> str:
    """Markdown table of the names from other libraries and what they mean in actlang."""
    lines = ["| name | means | formula | used by |", "|---|---|---|---|"]
    for a in composites(items):
        lines.append(f"| `{a.name}` | = `{_cell(a.text)}` | {_cell(a.doc)} | {_cell(a.source)} |")
    return "\n".join(lines) + "\n"


def aliases_text(items: list[Alias] | None = None) -> str:
    """Plain table for terminals: NAME = actlang text, and the libraries that use the name."""
    chosen = composites(items)
    width = max([len(a.name) for a in chosen] + [4])
    lines = [f"{'NAME':<{width}}  MEANS (actlang)  —  USED BY"]
    lines += [f"{a.name:<{width}}  {a.text}  —  {a.source}" for a in chosen]
    return "\n".join(lines) + "\n"


def dialects_markdown() -> str:
    """Per library: its keys, and those it reads differently from actlang (``dialect=``)."""
    lines = ["| library (`dialect=`) | reads differently | activation keys |", "|---|---|---|"]
    for library, names in LIBRARY_NAMES.items():
        differs = ", ".join(f"`{k}` = `{a.text}`" for k, a in DIALECTS[library].items()) or "—"
        keys = ", ".join(f"`{n}`" for n in names) or "AQuaSurF's operator names (`hard_sigmoid` is Keras 2's)"
        lines.append(f"| `{library}` | {differs} | {keys} |")
    refused = ", ".join(f"`{n}`" for n in NOT_POINTWISE)
    return "\n".join(lines) + f"\n\nNot elementwise, so refused with an error that says why: {refused}.\n"


def primitives_doc() -> str:
    """The full text of docs/primitives.md."""
    return (
        "# Primitives\n\n"
        "<!-- Generated from the registry by `python -m actlang.docs` (`make docs`); do not edit. -->\n\n"
        "Every primitive actlang knows, from its one definition in `actlang/definitions/`. "
        "A call is `name[hyper=value, ...](args)`; hyperparameters may also be given as keywords after "
        "the arguments, defaults are shown in the signature, and a bare name means the primitive applied "
        "to `x`. See [language.md](language.md) for the syntax.\n\n"
        "Properties: **pointwise** (each output depends on its own input only) or **per-sample** "
        "(uses statistics of each sample's whole feature map); **learned** (owns learned tensors, a "
        "submodule `<name>_<i>` in a compiled module); **stochastic** (random in training, its mean "
        "otherwise); **opaque** (no elementary sympy form).\n\n"
        f"{markdown_table()}"
        "\n## Hyperparameters and learned parameters\n\n"
        f"{_details()}"
        "\n## Names from other libraries\n\n"
        "Names that HuggingFace `ACT2FN`, timm and Keras 3 give activations, written in actlang. Each "
        "reads as its expansion (and prints canonically); tests compare each with its library's formula "
        "(see [ecosystem.md](ecosystem.md)).\n\n"
        f"{aliases_markdown()}"
        "\n### Dialects\n\n"
        f"{dialects_markdown()}"
    )


def _details() -> str:
    lines = []
    for p in primitives():
        if not p.hyper and not p.learned:
            continue
        lines.append(f"- `{p.name}`")
        for h in p.hyper:
            default = "required" if h.default is _required() else f"default `{_value(h.default)}`"
            doc = f" — {h.doc}" if h.doc else ""
            lines.append(f"  - `{h.name}`: {h.describe()}, {default}{doc}")
        for lt in p.learned:
            init = "initial value set by the hyperparameters" if callable(lt.init) else f"initially `{lt.init:g}`"
            doc = f" — {lt.doc}" if lt.doc else ""
            lines.append(f"  - learned `{lt.name}`, {init}{doc}")
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    from actlang.printer import format_value

    return format_value(value)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actlang.docs", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/primitives.md is out of date")
    parser.add_argument("--output", type=Path, default=DOC_PATH, help="file to write (default docs/primitives.md)")
    args = parser.parse_args(argv)
    text = primitives_doc()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run `make docs`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(primitives())} primitives)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
