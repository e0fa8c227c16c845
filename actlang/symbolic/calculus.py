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
sympy forms, which follow PyTorch's autograd (``relu'(0) = 0``). Every actlang value is real, so
``|u|' = sign(u)·u'`` and ``sign(u)' = 0`` for any ``u`` (as autograd has them; sympy would write
``re``/``im`` terms for an argument it does not know to be real), and Bessel functions in a
derivative are written with the scaled primitives (``bessel_i1e' = i0e − i1e·(1/x + sign x)``,
``1/2`` at 0). A product with a step that is 0 on a branch is 0 there, whatever its other
factors (autograd's masking: d/dx ``sqrt(relu(x))`` is 0, not 0·∞, for x < 0). A derivative that
still has no actlang spelling (or is not real, or not finite) is an :class:`UnsupportedError`.
"""

from __future__ import annotations

import sympy as sp

from actlang.ast import Call, Expr, params, walk
from actlang.errors import ActlangError, LimitError, UnsupportedError
from actlang.symbolic.budget import Deadline, TimeUp, run_with_limit, warm_up, working_time
from actlang.symbolic.chain_rule import chain_rule
from actlang.symbolic.exponentials import fold_exponentials
from actlang.symbolic.folding import recognise, recognise_composites
from actlang.symbolic.lowering import (
    elementary,
    sigmoid,
    to_sympy,
)
from actlang.symbolic.raising import from_sympy
from actlang.symbolic.symbols import X, param_symbol

DEFAULT_SIMPLIFY_BUDGET = 2.0


def size(expr: Expr) -> int:
    """Node count, the measure ``simplify`` minimises."""
    return sum(1 for _ in walk(expr))


def simplify(expr: Expr | str, *, budget: float = DEFAULT_SIMPLIFY_BUDGET) -> Expr:
    """The shortest equivalent form found (never longer than ``expr``, never a different function).

    Everything — lowering, sympy, raising, the probe of each candidate — runs under ``budget``
    seconds; when time runs out the best form checked so far (at worst ``expr``) is the answer.
    """
    from actlang.symbolic.equivalence import as_expr, check_budget

    seconds = working_time(check_budget(budget))
    expr = as_expr(expr, "expr")
    warm_up()
    if any(isinstance(n, Call) and n.name in _opaque_names() for n in walk(expr)):
        return expr
    best = [expr]
    try:
        run_with_limit(lambda: _shorten(expr, best, Deadline(seconds)), seconds)
    except Exception:  # TimeUp, or sympy failing on this input: the best form confirmed so far
        pass
    return best[0]


def _shorten(expr: Expr, best: list[Expr], deadline: Deadline) -> None:
    """Put shorter equivalent candidates into ``best[0]`` as they are confirmed."""
    from actlang.symbolic.equivalence import find_difference

    inits = params(expr)
    for candidate_form in _candidates(to_sympy(expr), deadline):
        try:
            candidate = from_sympy(candidate_form, inits)
        except (ActlangError, TypeError, ValueError, RecursionError):
            continue
        if size(candidate) < size(best[0]) and find_difference(expr, candidate, limit=2) is None:
            best[0] = candidate


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
            yield run_with_limit(lambda step=step: recognise_composites(recognise(step())), deadline.remaining())
        except TimeUp:
            return
        except Exception:  # a failed attempt only means no candidate from this step
            continue


def derivative(expr: Expr | str, wrt: str = "x", *, budget: float = DEFAULT_SIMPLIFY_BUDGET) -> Expr:
    """d expr / d wrt (``x`` or a learned scalar's name), simplified, in registry primitives only.

    The chain rule (sympy's ``diff`` with the generated classes' derivatives) runs first, then
    exponential ratios are folded into sigmoids (overflow-free); recognising primitives and
    collecting factors get what is left of ``budget`` but a quarter, and when that runs out the
    folded chain-rule form is the answer. If even the chain rule cannot finish within the budget,
    a :class:`LimitError` says so.
    """
    from actlang.symbolic.equivalence import as_expr, check_budget

    seconds = check_budget(budget)
    expr = as_expr(expr, "expr")
    if not isinstance(wrt, str):
        raise ActlangError(f"wrt must be a name ('x' or a learned scalar), not {type(wrt).__name__}")
    inits = params(expr)
    if wrt == "x":
        symbol = X
    elif wrt in inits:
        symbol = param_symbol(wrt)
    else:
        names = ", ".join(["x", *inits])
        raise ActlangError(f"cannot differentiate with respect to '{wrt}'; choose one of: {names}")
    warm_up()
    deadline = Deadline(working_time(seconds))
    derived = _limited(lambda: chain_rule(expr, symbol), deadline.remaining(), expr, seconds)

    # Cheap and overflow-free first (exponential ratios folded into sigmoids), then the tidy
    # spelling (primitives recognised, common factors pulled out) if time allows.
    quick = _limited(lambda: fold_exponentials(sp.powsimp(derived), sigmoid), deadline.remaining(), expr, seconds)

    def tidy() -> Expr:
        folded = recognise(quick)
        collected = sp.factor_terms(folded)
        shorter = collected if sp.count_ops(collected) <= sp.count_ops(folded) else folded
        return from_sympy(shorter, inits, fold=False)  # primitives already recognised

    try:  # a quarter of the budget stays for raising the untidy form, should tidying run out
        try:
            return run_with_limit(tidy, deadline.remaining() - seconds / 4)
        except ActlangError:
            raise
        except Exception:  # no time (or sympy failed) tidying: the folded chain-rule form
            return _limited(lambda: _untidy(quick, inits), max(deadline.remaining(), 0.05), expr, seconds)
    except UnsupportedError as error:  # e.g. PReLU's slope, a tensor of the primitive itself
        raise UnsupportedError(f"the derivative of {expr} has no actlang spelling: {error}") from None


def _untidy(quick: sp.Expr, inits: dict[str, float]) -> Expr:
    """The folded chain-rule form as actlang, when tidying ran out of time: raised as it is, or,
    where it holds forms that only recognition spells, after recognising primitives."""
    try:
        return from_sympy(quick, inits, fold=False)
    except UnsupportedError:
        return from_sympy(recognise(quick), inits, fold=False)


def _limited(work, seconds: float, expr: Expr, budget: float):
    """``work()`` within ``seconds``; running out, or sympy recursing too deep, is a LimitError."""
    try:
        return run_with_limit(work, seconds)
    except TimeUp:
        raise LimitError(f"the derivative of {expr} did not finish within the budget of {budget:g} s") from None
    except RecursionError:
        raise LimitError(f"{expr} is nested too deeply for a symbolic derivative") from None
    except ActlangError:
        raise
    except Exception as error:  # sympy failing: a user-facing error, never a raw traceback
        raise UnsupportedError(f"cannot differentiate {expr} ({type(error).__name__}: {error})") from None
