"""Float64 reference evaluation with numpy/scipy only — the oracle the compiled modules are
tested against. It never imports torch."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from actlang.ast import Call, Constant, Expr, Input, Num, Param, Sites, params, walk
from actlang.build import as_expr
from actlang.definitions.lazy import np  # numpy on first use: `import actlang` and the CLI's text paths skip it
from actlang.errors import EvaluationError
from actlang.exact import exact_cache
from actlang.registry import Primitive, lookup


def evaluate(expr: Expr | str, xs: Any, params: Mapping[str, Any] | None = None) -> np.ndarray:
    """``expr`` at the points ``xs`` in float64, as an array shaped like ``xs``.

    ``params`` overrides initial values: learned scalars by name (``"beta"``) and learned tensors
    of stateful primitives by qualified name (``"prelu_0.a"``; sites are numbered per primitive in
    evaluation order, as the compiler names its submodules). Stochastic primitives use their
    deterministic (eval-mode) form. NaN and inf appear exactly where the math has them.
    """
    if isinstance(expr, str):
        from actlang.parser import parse

        expr = parse(expr)
    if not isinstance(expr, Num | Input | Constant | Param | Call):
        raise EvaluationError(f"evaluate takes an activation as text or an expression, got {type(expr).__name__}")
    try:
        xs = np.asarray(xs, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise EvaluationError(f"the points to evaluate at must be real numbers: {error}") from None
    given = _given(params)
    _check_params(expr, given)
    with np.errstate(all="ignore"):
        try:
            result = _eval(expr, xs, given, Sites())
            return np.broadcast_to(np.asarray(result, dtype=np.float64), xs.shape).copy()
        except ValueError as error:  # numpy: parameter values whose shape does not fit the points
            if isinstance(error, EvaluationError):
                raise
            raise EvaluationError(f"the parameter values do not fit the points' shape {xs.shape}: {error}") from None


def constant_value(expr: Expr) -> float:
    """The value of a subtree without ``x`` or learned scalars (``sqrt(pi)``), by the float64
    reference: what the compiler writes as a literal in place of the subtree."""
    return float(evaluate(expr, 0.0))


def _given(params: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
    """``params`` as float64 arrays by name, or an EvaluationError saying which value is bad."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise EvaluationError(f"params must be a mapping from names to values, got {type(params).__name__}")
    given = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise EvaluationError(f"parameter names must be strings, got {name!r}")
        if value is None or isinstance(value, str | bytes):  # np.asarray(None, float) is a silent NaN
            raise EvaluationError(f"parameter '{name}' must be a real number or an array of them, got {value!r}")
        try:
            given[name] = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as error:
            raise EvaluationError(f"parameter '{name}' must be a real number or an array of them: {error}") from None
    return given


def _check_params(expr: Expr, given: Mapping[str, Any]) -> None:
    known = set(params(expr)) | set(learned_names(expr))
    unknown = sorted(set(given) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise EvaluationError(f"unknown parameter '{unknown[0]}'; the expression's parameters: {listed}")


def learned_names(expr: Expr) -> list[str]:
    """Qualified names of the learned tensors of stateful primitives, e.g. ``['prelu_0.a']``."""
    names, sites = [], Sites()
    for node in walk(expr):
        if isinstance(node, Call) and (primitive := lookup(node.name)) and primitive.stateful:
            site = sites.next(node.name)
            names += [f"{site}.{learned.name}" for learned in primitive.learned]
    return names


def _eval(expr: Expr, xs: np.ndarray, given: Mapping[str, Any], sites: Sites) -> Any:
    match expr:
        case Num(value=value):
            return np.float64(value)
        case Input():
            return xs
        case Constant(value=value):
            return np.float64(value)
        case Param(name=name, init=init):
            return np.asarray(given.get(name, init), dtype=np.float64)
        case Call(name=name, args=args, hyper=hyper):
            values = [_eval(a, xs, given, sites) for a in args]
            primitive = lookup(name)
            assert primitive is not None, name
            kwargs = dict(hyper) | _learned_values(primitive, dict(hyper), given, sites)
            return reference(primitive)(*values, **kwargs)
    raise TypeError(f"not an actlang expression: {expr!r}")


def _learned_values(
    primitive: Primitive, hp: dict[str, Any], given: Mapping[str, Any], sites: Sites
) -> dict[str, Any]:
    if not primitive.stateful:
        return {}
    site = sites.next(primitive.name)
    return {
        learned.name: np.asarray(given.get(f"{site}.{learned.name}", learned.initial(hp)), dtype=np.float64)
        for learned in primitive.learned
    }


@functools.cache
def reference(primitive: Primitive):
    """The primitive's numpy reference: given, or expanded from its actlang definition."""
    if primitive.numpy is not None:
        return primitive.numpy
    if primitive.definition is None:
        raise EvaluationError(f"{primitive.name} has no numpy reference")

    def expanded(*args: Any, **hp: Any) -> Any:
        body = expand_definition(primitive, tuple(sorted(hp.items())))
        # The definition's x is the first argument; evaluate it with that argument as input.
        return _eval(body, np.asarray(args[0], dtype=np.float64), {}, Sites())

    return expanded


@exact_cache()  # hyper keyed bit for bit: a -0.0 reaches the definition (actlang.exact)
def expand_definition(primitive: Primitive, hyper: tuple[tuple[str, Any], ...]) -> Expr:
    """The primitive's actlang definition with its hyperparameter names replaced by values."""
    from actlang.parser import parse

    assert primitive.definition is not None
    return _substitute(parse(primitive.definition), dict(hyper))


def _substitute(expr: Expr, values: Mapping[str, Any]) -> Expr:
    match expr:
        case Param(name=name) if name in values:
            return as_expr(values[name])
        case Call(name=name, args=args, hyper=hyper):
            return Call(name, tuple(_substitute(a, values) for a in args), hyper, expr.span)
        case _:
            return expr
