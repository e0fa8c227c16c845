"""``simplify`` and ``derivative``: sympy does the algebra, the answer comes back as actlang.

``simplify(e)`` tries sympy's simplification on the primitive level and on the elementary
level, folds primitives back in (:mod:`actlang.symbolic.folding`), and keeps the shortest
candidate that the probe of :func:`~actlang.symbolic.equivalence.find_difference` cannot tell
apart from ``e`` — domain included, so ``x/x`` stays ``x/x`` (it is NaN at 0, ``1`` is not).
Within its time budget; the input itself is the fallback.

``derivative(e, wrt)`` differentiates with the generated classes' derivatives (so
``softplus' = sigmoid``, ``sigmoid' = sigmoid(x)·sigmoid(−x)``: no exponential ratios that
overflow), drops Dirac deltas (derivatives of steps, zero almost everywhere, as PyTorch does),
and writes kinks with ``select``/``heaviside`` whose values at the kink follow the primitives'
sympy forms, which follow PyTorch's autograd (``relu'(0) = 0``).
"""

from __future__ import annotations

import sympy as sp

from actlang.ast import Call, Expr, params, walk
from actlang.errors import ActlangError, UnsupportedError
from actlang.symbolic.budget import Deadline, TimeUp, run_with_limit
from actlang.symbolic.folding import fold_exponentials, recognise
from actlang.symbolic.functions import elementary
from actlang.symbolic.lowering import to_sympy
from actlang.symbolic.raising import from_sympy
from actlang.symbolic.symbols import X, param_symbol

DEFAULT_SIMPLIFY_BUDGET = 2.0


def size(expr: Expr) -> int:
    """Node count, the measure ``simplify`` minimises."""
    return sum(1 for _ in walk(expr))


def simplify(expr: Expr | str, *, budget: float = DEFAULT_SIMPLIFY_BUDGET) -> Expr:
    """The shortest equivalent form found (never longer than ``expr``, never a different function)."""
    from actlang.parser import parse
    from actlang.symbolic.equivalence import find_difference

    expr = parse(expr) if isinstance(expr, str) else expr
    if any(isinstance(n, Call) and n.name in _opaque_names() for n in walk(expr)):
        return expr
    deadline = Deadline(budget)
    best = expr
    inits = params(expr)
    for candidate_form in _candidates(to_sympy(expr), deadline):
        try:
            candidate = from_sympy(candidate_form, inits)
        except (ActlangError, TypeError, ValueError):
            continue
        if deadline.expired():
            break
        if size(candidate) < size(best) and find_difference(expr, candidate, limit=2) is None:
            best = candidate
    return best


def _opaque_names() -> set[str]:
    from actlang.registry import primitives

    return {p.name for p in primitives() if p.opaque}


def _candidates(form: sp.Expr, deadline: Deadline):
    """Simplified forms of ``form``, cheapest first, each computed within what is left of the budget."""
    steps = (
        lambda: form,
        lambda: sp.simplify(form),
        lambda: sp.simplify(elementary(form)),
        lambda: sp.factor(sp.cancel(sp.expand(elementary(form).rewrite(sp.exp)))),
    )
    for step in steps:
        try:
            yield run_with_limit(lambda step=step: recognise(step()), deadline.remaining())
        except TimeUp:
            return
        except Exception:  # a failed attempt only means no candidate from this step
            continue


def derivative(expr: Expr | str, wrt: str = "x", *, budget: float = DEFAULT_SIMPLIFY_BUDGET) -> Expr:
    """d expr / d wrt (``x`` or a learned scalar's name), simplified, in registry primitives only."""
    from actlang.parser import parse

    expr = parse(expr) if isinstance(expr, str) else expr
    inits = params(expr)
    if wrt == "x":
        symbol = X
    elif wrt in inits:
        symbol = param_symbol(wrt)
    else:
        names = ", ".join(["x", *inits])
        raise ActlangError(f"cannot differentiate with respect to '{wrt}'; choose one of: {names}")
    deadline = Deadline(budget)
    derived = sp.diff(to_sympy(expr), symbol)
    derived = derived.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    if derived.has(sp.Derivative, sp.Subs):
        raise UnsupportedError(f"{expr} has an opaque primitive; its derivative has no closed form")

    def tidy() -> Expr:
        folded = recognise(fold_exponentials(sp.powsimp(derived)))
        collected = sp.factor_terms(folded)
        shorter = collected if sp.count_ops(collected) <= sp.count_ops(folded) else folded
        return from_sympy(shorter, inits, fold=False)  # primitives already recognised

    try:
        return run_with_limit(tidy, deadline.remaining())
    except TimeUp:  # no time for a tidy spelling: the derivative as sympy wrote it
        return from_sympy(derived, inits, fold=False)
    except ActlangError:
        raise
    except Exception as error:  # sympy failing inside folding: report it as a user-facing error
        raise UnsupportedError(f"cannot write the derivative of {expr} in actlang ({error})") from None

