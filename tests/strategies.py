"""Hypothesis strategies for actlang expressions, derived from the primitive registry.

``exprs()`` draws valid, canonical ASTs over every registered primitive (so new primitives are
covered automatically): calls are built with :func:`actlang.build.make_call`, hyperparameters are
drawn from each primitive's :class:`~actlang.registry.Hyper` specs (type and range), variadic
primitives get 1-3 arguments, numbers are finite and >= 0, and every learned scalar name has one
initial value per expression. ``aquasurf_strings()`` draws AQuaSurF prefix strings.

Usage::

    from tests.strategies import exprs

    @given(exprs(max_depth=4, pointwise_only=True))
    def test_something(e): ...
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from hypothesis import reject
from hypothesis import strategies as st

import actlang
from actlang.ast import CONSTANTS, RESERVED_NAMES, Call, Constant, Expr, Input, Num, Param
from actlang.build import make_call
from actlang.errors import ActlangError
from actlang.registry import REQUIRED, Hyper, Primitive

# Learned-scalar names; any that a primitive later takes over is dropped at draw time, because a
# bare primitive name means "that primitive applied to x", not a parameter.
PARAM_NAMES = ("beta", "gamma", "w", "alpha_1", "p", "q", "scale", "Theta")

_NICE_NUMBERS = (0.0, 0.5, 1.0, 2.0, 3.0, 0.1, 1e-3, 6.0, 10.0, 1.5)


def numbers() -> st.SearchStrategy[float]:
    """Values a ``Num`` may hold: finite and >= 0, from tidy constants to extreme floats."""
    return st.one_of(
        st.sampled_from(_NICE_NUMBERS),
        st.integers(min_value=0, max_value=1000).map(float),
        st.floats(min_value=0.0, allow_nan=False, allow_infinity=False),
    )


def param_names() -> list[str]:
    """The parameter-name pool, minus anything the registry or the language reserves."""
    return [n for n in PARAM_NAMES if actlang.lookup(n) is None and n not in RESERVED_NAMES]


def hyper_values(spec: Hyper) -> st.SearchStrategy:
    """Valid values of one hyperparameter, honouring its kind and (open) bounds."""
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "choice":
        return st.sampled_from(spec.choices)
    low = spec.low if spec.low is not None else -20.0
    high = spec.high if spec.high is not None else (low + 40.0 if spec.low is not None else 20.0)
    if spec.kind == "int":
        lo = math.ceil(low) + (1 if spec.open_low and float(low).is_integer() else 0)
        hi = math.floor(high) - (1 if spec.open_high and float(high).is_integer() else 0)
        if spec.high is None:
            hi = min(hi, lo + 30)  # keep sizes (cells, k) small enough to compile quickly
        return st.integers(min_value=lo, max_value=max(lo, hi))
    floats = st.floats(
        min_value=low, max_value=high, exclude_min=spec.open_low, exclude_max=spec.open_high,
        allow_nan=False, allow_infinity=False,
    )
    tidy = [v for v in (spec.default, low, high, 0.5, 1.0, 2.0) if _in_range(spec, v)]
    return st.one_of(st.sampled_from(tidy), floats) if tidy else floats


def _in_range(spec: Hyper, value: object) -> bool:
    if value is REQUIRED:
        return False
    try:
        return spec.coerce(value) is not None
    except ValueError:
        return False


def _eligible(
    pointwise_only: bool, stateless_only: bool, names: Iterable[str] | None
) -> list[Primitive]:
    chosen = actlang.primitives()
    if names is not None:
        wanted = {actlang.lookup(n).name for n in names}  # type: ignore[union-attr]
        chosen = [p for p in chosen if p.name in wanted]
    if pointwise_only:
        chosen = [p for p in chosen if p.pointwise]
    if stateless_only:
        chosen = [p for p in chosen if not p.stateful and not p.stochastic]
    return chosen


@st.composite
def calls_of(draw, primitive: Primitive, args: list[Expr]) -> Call:
    """A validated call of ``primitive`` on ``args`` with randomly drawn hyperparameters.

    Some primitives constrain combinations (``hardtanh`` needs min < max); redraws find a valid
    combination (later ones keep optional hyperparameters at their defaults).
    """
    for attempt in range(8):
        keywords = []
        for spec in primitive.hyper:
            if spec.default is REQUIRED or (attempt < 4 and draw(st.booleans())):
                keywords.append((spec.name, draw(hyper_values(spec)), None))
        try:
            return make_call(primitive.name, args, keywords)
        except ActlangError:
            continue
    reject()  # a combination constraint (a < b) failed eight draws in a row


@st.composite
def exprs(
    draw,
    max_depth: int = 4,
    pointwise_only: bool = False,
    stateless_only: bool = False,
    allow_params: bool = True,
    primitives: Iterable[str] | None = None,
) -> Expr:
    """A valid canonical expression tree at most ``max_depth`` deep.

    ``pointwise_only`` drops primitives that use whole-tensor statistics; ``stateless_only``
    drops primitives with learned tensors or randomness; ``allow_params`` allows free learned
    scalars (each name with one initial value, shared by all its occurrences); ``primitives``
    restricts calls to the given names (aliases allowed).
    """
    eligible = _eligible(pointwise_only, stateless_only, list(primitives) if primitives is not None else None)
    inits: dict[str, float] = {}
    if allow_params:
        for name in draw(st.lists(st.sampled_from(param_names()), max_size=3, unique=True)):
            inits[name] = draw(st.one_of(st.just(1.0), st.floats(-10, 10, allow_nan=False)))
    return draw(_tree(max_depth, eligible, inits))


@st.composite
def _tree(draw, depth: int, eligible: list[Primitive], inits: dict[str, float]) -> Expr:
    if depth <= 1 or not eligible or draw(st.integers(0, 3)) == 0:
        return draw(_leaf(inits))
    primitive = draw(st.sampled_from(eligible))
    if primitive.arity is None:
        count = draw(st.integers(max(1, primitive.min_args), max(3, primitive.min_args)))
    else:
        count = primitive.arity
    args = [draw(_tree(depth - 1, eligible, inits)) for _ in range(count)]
    return draw(calls_of(primitive, args))


def _leaf(inits: dict[str, float]) -> st.SearchStrategy[Expr]:
    options = [
        st.just(Input()),
        st.just(Input()),
        numbers().map(Num),
        st.sampled_from(sorted(CONSTANTS)).map(Constant),
    ]
    if inits:
        options.append(st.sampled_from(sorted(inits)).map(lambda name: Param(name, inits[name])))
    return st.one_of(options)


def aquasurf_primitives(arity: int | None = 1) -> list[Primitive]:
    """Primitives with an AQuaSurF name and the given arity (``None``: variadic ones)."""
    return [p for p in actlang.primitives() if p.aquasurf is not None and p.arity == arity]


@st.composite
def aquasurf_exprs(draw, max_depth: int = 4) -> Expr:
    """Trees AQuaSurF can spell: AQuaSurF primitives with default hyperparameters, leaf ``x``."""
    if max_depth <= 1 or draw(st.integers(0, 3)) == 0:
        return Input()
    primitive = draw(st.sampled_from([p for p in actlang.primitives() if p.aquasurf is not None]))
    count = primitive.arity if primitive.arity is not None else draw(st.integers(1, 3))
    return make_call(primitive.name, [draw(aquasurf_exprs(max_depth - 1)) for _ in range(count)])


def aquasurf_strings(max_depth: int = 4) -> st.SearchStrategy[str]:
    """AQuaSurF prefix strings such as ``add(relu(x),swish(x))`` (AQuaSurF names, no spaces)."""
    return aquasurf_exprs(max_depth).map(lambda e: actlang.format(e, style="aquasurf"))
