"""Pieces of torch code generation shared by the compiler: literals and template rendering.

The compiler (:mod:`actlang.compiler.codegen`) emits one assignment per node from each
primitive's template; these helpers turn values into code. User text reaches generated source
only as float literals and grammar-checked identifiers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from actlang.ast import HyperValue
from actlang.registry import Primitive


@dataclass(frozen=True)
class Site:
    """One stateful primitive occurrence: submodule name, primitive, hyperparameters, and the
    number of arguments (variadic module primitives such as ``mix`` size their state by it)."""

    name: str
    primitive: Primitive
    hyper: tuple[tuple[str, HyperValue], ...]
    arity: int = 1


def literal(value: float) -> str:
    """A float literal valid in Python and TorchScript (``math.inf``/``math.nan`` for non-finite)."""
    if math.isnan(value):
        return "math.nan"
    if math.isinf(value):
        return "math.inf" if value > 0 else "-math.inf"
    return repr(float(value))


def hyper_literal(value: HyperValue) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return repr(value)
    return repr(value) if isinstance(value, int) else literal(value)


def render(primitive: Primitive, args: list[str], names: Mapping[str, str]) -> str:
    """The primitive's torch template filled with argument variables and named values."""
    template = primitive.torch
    if template is None:
        raise NotImplementedError(f"{primitive.name} has no torch template")
    if callable(template):
        return template(args, names)
    return template.format(*args, **names)
