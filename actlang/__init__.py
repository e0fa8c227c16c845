"""actlang: a small language for neural-network activation functions, and a compiler for it.

>>> import actlang
>>> str(actlang.parse("add(relu(x),swish(x))"))
'relu(x) + silu(x)'
"""

from __future__ import annotations

# Load the primitive definitions (they register themselves) before anything looks a name up.
import actlang.definitions as _definitions  # noqa: F401
from actlang.ast import Call, Constant, Expr, Input, Num, Param
from actlang.build import call
from actlang.errors import (
    ActlangError,
    ActlangWarning,
    AmbiguousNameWarning,
    ArityError,
    ConstantExpressionError,
    ConstantExpressionWarning,
    EvaluationError,
    HyperparameterError,
    LimitError,
    ParseError,
    Span,
    SuspiciousNameWarning,
    UnknownNameError,
    UnsupportedError,
)
from actlang.evaluate import evaluate
from actlang.parser import parse
from actlang.printer import Style, format_expr
from actlang.registry import Hyper, Learned, Primitive, lookup, primitives

__version__ = "0.1.0"

# The compiler needs torch; it is imported on first use so that `import actlang` stays light.
_COMPILER = frozenset({"compile", "export", "ActivationModule"})


# Models and mixtures (torch too): name -> defining module.
_MODELS = {
    "replace_activations": "actlang.models", "collapse": "actlang.research.collapse",
    "dominant": "actlang.research.collapse", "regularization": "actlang.cpab", "act_layer": "actlang.layers",
    "register_activation": "actlang.layers",
}
# The symbolic layer imports sympy (slow to import): loaded on first use as well.
_MODELS |= dict.fromkeys(
    ("to_sympy", "from_sympy", "simplify", "derivative", "equivalent", "properties", "Equivalence", "Properties"),
    "actlang.symbolic",
)


def __getattr__(name: str):
    if name in _COMPILER:
        import actlang.compiler

        return getattr(actlang.compiler, name)
    if name in _MODELS:
        import importlib

        return getattr(importlib.import_module(_MODELS[name]), name)
    if name == "search":  # search spaces (docs/search.md): `actlang.search.enumerate(...)` after `import actlang`
        import actlang.search

        return actlang.search
    raise AttributeError(f"module 'actlang' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazily loaded names too, so that completion in a REPL shows them.
    return sorted({*globals(), *_COMPILER, *_MODELS, "search"})


def format(expr: Expr | str, style: Style = "actlang") -> str:  # noqa: A001 - the public name
    """Canonical text of ``expr`` (parsing it first if it is a string); see docs/language.md §5."""
    return format_expr(parse(expr) if isinstance(expr, str) else expr, style)


__all__ = [
    "ActivationModule", "ActlangError", "ActlangWarning", "AmbiguousNameWarning", "ArityError", "Call", "Constant",
    "ConstantExpressionError", "ConstantExpressionWarning", "Equivalence", "EvaluationError", "Expr", "Hyper",
    "HyperparameterError", "Input", "Learned", "LimitError", "Num", "Param", "ParseError", "Primitive", "Properties",
    "Span", "SuspiciousNameWarning", "UnknownNameError", "UnsupportedError", "act_layer", "call", "collapse",
    "compile", "derivative", "dominant", "equivalent", "evaluate", "export", "format", "from_sympy", "lookup", "parse",
    "primitives", "properties", "register_activation", "regularization", "replace_activations", "simplify",
    "to_sympy",
]
