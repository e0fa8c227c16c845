"""AQuaSurF's operator sets, its search-space presets, and enumeration of template strings.

AQuaSurF expands a template over the cartesian product of operators: n-ary placeholders vary
slowest, then binary, then unary, each kind left to right (its ``get_fn_names_from_schema``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from actlang.ast import Call, Expr, walk
from actlang.errors import ParseError, UnknownNameError, UnsupportedError
from actlang.parser import parse
from actlang.registry import lookup
from actlang.search.template import Template, parse_template

# AQuaSurF's operators, in its order and spelling (each is the registry primitive of that name or
# alias; the float32 kernels in actlang.search.tf_kernels reproduce TensorFlow's numerics).
AQUASURF_UNARY: tuple[str, ...] = (
    "zero", "one", "identity", "negative", "abs", "reciprocal", "square", "exp", "erf", "erfc",
    "sinh", "cosh", "tanh", "expm1", "sigmoid", "log_sigmoid", "arcsinh", "arctan", "bessel_i0e",
    "bessel_i1e", "relu", "elu", "selu", "swish", "softplus", "softsign", "hard_sigmoid",
)
AQUASURF_BINARY: tuple[str, ...] = ("add", "sub", "mul", "div", "pow", "max", "min")
AQUASURF_NARY: tuple[str, ...] = ("sum_n", "prod_n", "max_n", "min_n")
# Operators AQuaSurF's later experiments added to the unary set.
AQUASURF_EXTRA_UNARY: tuple[str, ...] = ("elish", "leakyrelu", "mish", "gelu")
# The eight baselines AQuaSurF evaluates first.
BASELINES: tuple[str, ...] = (
    "elu(x)", "relu(x)", "selu(x)", "sigmoid(x)", "softplus(x)", "softsign(x)", "swish(x)", "tanh(x)",
)


@dataclass(frozen=True)
class Preset:
    """A named search space: templates expanded over the AQuaSurF operators, then fixed strings."""

    name: str
    templates: tuple[str, ...]
    extra: tuple[str, ...] = ()
    doc: str = ""


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("benchmark", ("binary(unary(x),unary(x))",),
               doc="the act-bench space: 7·27·27 = 5,103 strings (paper: 2,913 unique)"),
        Preset(
            "aquasurf-large",
            ("unary(unary(unary(unary(x))))", "unary(binary(unary(x),unary(x)))",
             "binary(unary(unary(x)),unary(x))", "binary(unary(x),unary(unary(x)))",
             "n-ary(unary(x),unary(x),unary(x))"),
            BASELINES,
            doc="AQuaSurF's large space: five templates plus 8 baselines = 1,023,524 strings "
                "(paper: 425,896 unique)",
        ),
    )
}


def templates_of(
    template: str | Sequence[str] | None = None, preset: str | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The templates and fixed strings of a template (or list of them) and/or a preset."""
    templates: list[str] = []
    extra: tuple[str, ...] = ()
    if preset is not None:
        if preset not in PRESETS:
            raise UnknownNameError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
        templates += PRESETS[preset].templates
        extra = PRESETS[preset].extra
    if template is not None:
        templates += [template] if isinstance(template, str) else list(template)
    if not templates and not extra:
        raise ParseError("give a template or a preset")
    return tuple(templates), extra


def compile_templates(
    templates: Sequence[str],
    unary: Sequence[str] = AQUASURF_UNARY,
    binary: Sequence[str] = AQUASURF_BINARY,
    nary: Sequence[str] = AQUASURF_NARY,
) -> list[Template]:
    """Parse each template with the operator lists."""
    return [parse_template(t, unary, binary, nary) for t in templates]


def expand(template: Template) -> Iterator[str]:
    """The strings of one parsed template, in AQuaSurF's order."""
    ordered = [[op.text for op in template.ops[slot]] for slot in template.order]
    fill, suffix = template.pattern.format, template.suffix
    for combo in itertools.product(*ordered):
        yield fill(*combo) + suffix


@dataclass(frozen=True)
class Space:
    """Parsed templates whose strings, concatenated, form a search space (iterable; ``len`` counts
    without producing strings). :func:`~actlang.search.deduplicate` evaluates it template-wise."""

    templates: tuple[Template, ...]

    def __iter__(self) -> Iterator[str]:
        for template in self.templates:
            yield from expand(template)

    def __len__(self) -> int:
        return sum(t.count for t in self.templates)


def space(
    template: str | Sequence[str] | None = None,
    unary: Sequence[str] = AQUASURF_UNARY,
    binary: Sequence[str] = AQUASURF_BINARY,
    nary: Sequence[str] = AQUASURF_NARY,
    *,
    preset: str | None = None,
) -> Space:
    """The search space of ``template`` (one or a list) and/or a ``preset``, validated up front."""
    texts, extra = templates_of(template, preset)
    return Space(tuple(compile_templates(texts + extra, unary, binary, nary)))


def enumerate(  # noqa: A001 - the public name
    template: str | Sequence[str] | None = None,
    unary: Sequence[str] = AQUASURF_UNARY,
    binary: Sequence[str] = AQUASURF_BINARY,
    nary: Sequence[str] = AQUASURF_NARY,
    *,
    preset: str | None = None,
) -> Iterator[str]:
    """Every string ``template`` (a template, a list of them, or a ``preset``) produces, in
    AQuaSurF's order; the templates and operators are validated before the first string.

    >>> list(enumerate("binary(unary(x),unary(x))"))[:2]
    ['add(zero(x),zero(x))', 'add(zero(x),one(x))']
    """
    return iter(space(template, unary, binary, nary, preset=preset))


def count(
    template: str | Sequence[str] | None = None,
    unary: Sequence[str] = AQUASURF_UNARY,
    binary: Sequence[str] = AQUASURF_BINARY,
    nary: Sequence[str] = AQUASURF_NARY,
    *,
    preset: str | None = None,
) -> int:
    """How many strings ``enumerate`` yields for the same arguments, without producing them."""
    return len(space(template, unary, binary, nary, preset=preset))


def parse_names(names: Sequence[str]) -> list[Expr]:
    """Parse activation strings for evaluation; only deterministic-in-eval pointwise ones qualify."""
    exprs = []
    for name in names:
        expr = parse(name, dialect="aquasurf")  # search spaces are spelled in AQuaSurF's names
        for node in walk(expr):
            if isinstance(node, Call) and not lookup(node.name).pointwise:  # type: ignore[union-attr]
                raise UnsupportedError(f"{node.name} is not pointwise; search spaces hold pointwise functions")
        exprs.append(expr)
    return exprs
