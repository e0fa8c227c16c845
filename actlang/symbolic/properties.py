"""``properties(e)``: facts a search can filter on, each ``True``, ``False`` or ``None`` (unknown).

A ``True`` or ``False`` is always backed by a sympy proof or by a 50-digit evaluation that
settles it (a value at 0 that is certainly non-zero; three points where the function goes up
then down); anything less is ``None``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from actlang.ast import Expr
from actlang.symbolic.budget import Deadline, run_with_limit, warm_up, working_time

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

    The whole call runs within ``budget`` seconds: each check gets a quarter of it, or what is
    left if less; one that runs out answers None. Numeric evidence (a False from three points)
    uses the learned scalars' initial values.
    """
    from actlang.symbolic import checks
    from actlang.symbolic.equivalence import as_expr, check_budget

    seconds = working_time(check_budget(budget))
    expr = as_expr(expr, "expr")
    warm_up()
    deadline = Deadline(seconds)

    def guarded(check) -> Answer:
        share = min(seconds / 4, deadline.remaining())
        try:
            return run_with_limit(lambda: check(expr, share), share)
        except Exception:  # TimeUp, or sympy failing: unknown, never a guess or a crash
            return None

    return Properties(
        monotone=guarded(checks.monotone),
        bounded_below=guarded(checks.bounded_below),
        bounded_above=guarded(checks.bounded_above),
        zero_at_zero=guarded(checks.zero_at_zero),
        odd=guarded(checks.odd),
        even=guarded(checks.even),
        smooth=guarded(checks.smooth),
    )
