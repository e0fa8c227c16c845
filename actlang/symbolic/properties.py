"""``properties(e)``: facts a search can filter on, each ``True``, ``False`` or ``None`` (unknown).

A ``True`` or ``False`` is always backed by a sympy proof or by a 50-digit evaluation that
settles it (a value at 0 that is certainly non-zero; three points where the function goes up
then down); anything less is ``None``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sympy as sp

from actlang.ast import Expr
from actlang.symbolic.budget import TimeUp, run_with_limit

Answer = bool | None


@dataclass(frozen=True)
class Properties:
    monotone: Answer
    bounded_below: Answer
    bounded_above: Answer
    zero_at_zero: Answer
    odd: Answer
    even: Answer
    smooth: Answer

    def to_dict(self) -> dict[str, Answer]:
        return asdict(self)


def properties(expr: Expr | str, *, budget: float = 4.0) -> Properties:
    """The :class:`Properties` of ``expr`` (see the module docstring for what backs each).

    Each check runs under a quarter of ``budget`` seconds; one that runs out answers None.
    Numeric evidence (a False from three points) uses the learned scalars' initial values.
    """
    from actlang.parser import parse
    from actlang.symbolic import checks

    expr = parse(expr) if isinstance(expr, str) else expr
    share = budget / 4

    def guarded(check) -> Answer:
        try:
            return run_with_limit(lambda: check(expr, share), share)
        except TimeUp:
            return None
        except (TypeError, ValueError, NotImplementedError, AttributeError, RecursionError, sp.PolynomialError):
            return None

    lower, upper = guarded(checks.bounded_below), guarded(checks.bounded_above)
    return Properties(
        monotone=guarded(checks.monotone),
        bounded_below=lower,
        bounded_above=upper,
        zero_at_zero=guarded(checks.zero_at_zero),
        odd=guarded(checks.odd),
        even=guarded(checks.even),
        smooth=guarded(checks.smooth),
    )
