"""Activations that never use their input: ``relu(z)`` (z is a learned scalar), ``GELU``, ``2``.

Such text is valid actlang, but as an activation it is almost always a typo for ``x`` or for a
primitive's name, and it trains to a constant without any error. :func:`require_input` turns it
into a :class:`~actlang.errors.ConstantExpressionError` (or a warning) with a did-you-mean hint.
"""

from __future__ import annotations

import warnings

from actlang.ast import Expr, Param, uses_input, walk
from actlang.errors import ConstantExpressionError, ConstantExpressionWarning


def hint(expr: Expr) -> str:
    """What the author probably meant: a primitive for a misspelt bare name, else ``x``."""
    import difflib  # here, not at the top: only a constant expression needs it (start-up time)

    from actlang.registry import all_names

    names = all_names()
    scalars = list(dict.fromkeys(node.name for node in walk(expr) if isinstance(node, Param)))
    for name in scalars:
        folded = [n for n in names if n.lower() == name.lower()]
        close = folded or difflib.get_close_matches(name, names, n=1, cutoff=0.75)
        if close:
            return f"did you mean the primitive '{close[0]}' (applied to x)? '{name}' reads as a learned scalar"
    if scalars:
        listed = ", ".join(f"'{n}'" for n in scalars)
        verb = "is a learned scalar" if len(scalars) == 1 else "are learned scalars"
        return f"the input is written x; {listed} {verb}"
    return "the input is written x"


def require_input(expr: Expr, *, allow_constant: bool = False, warn: bool = False, stacklevel: int = 3) -> None:
    """Raise a ``ConstantExpressionError`` (or warn, with ``warn=True``) when ``expr`` never uses
    ``x``, unless ``allow_constant``."""
    if allow_constant or uses_input(expr):
        return
    from actlang.printer import format_expr

    message = f"{format_expr(expr)} never uses the input x, so as an activation it is a constant"
    if warn:
        warnings.warn(f"{message}; {hint(expr)}", ConstantExpressionWarning, stacklevel=stacklevel)
        return
    raise ConstantExpressionError(f"{message} (allow_constant=True, or --allow-constant, accepts it)", hint=hint(expr))
