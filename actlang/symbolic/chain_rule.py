"""The chain rule for :func:`actlang.symbolic.calculus.derivative`: sympy differentiates, with
stand-ins that say what actlang's values are.

Every actlang value is real (or NaN), so ``|u|' = sign(u)·u'`` and ``sign(u)' = 0`` for any ``u``
(as autograd has them; sympy would write ``re``/``im`` terms for an argument it does not know to
be real); ``0^u`` is flat; Bessel functions in a derivative are written with the scaled
primitives (``bessel_i1e' = i0e − i1e·(1/x + sign x)``, ``1/2`` at 0); a product with a step that
is 0 on a branch is 0 there, whatever its other factors (autograd's masking). A derivative that
has no closed form, is not real or not finite is an :class:`UnsupportedError`.
"""

from __future__ import annotations

import functools

import sympy as sp

from actlang.ast import Expr
from actlang.errors import UnsupportedError
from actlang.symbolic.functions import dummies
from actlang.symbolic.lowering import ActFunction, derivative_form, function_class, to_sympy


def chain_rule(expr: Expr, symbol: sp.Symbol) -> sp.Expr:
    """d ``expr`` / d ``symbol`` in sympy (see the module docstring)."""
    form = to_sympy(expr)
    # Every value an actlang expression takes is real (or NaN), so |u|' = sign(u)·u' and
    # sign(u)' = 0 almost everywhere, as autograd has them. sympy only says so for an argument it
    # knows to be real; for relu(x) or x^tanh(x) it writes re/im/arg terms that actlang cannot spell.
    # 0^u (0, 1 or inf; sympy writes 0^−u as zoo^u) is flat too; sympy's 0^u·log(0) is NaN.
    form = form.replace(lambda e: isinstance(e, sp.Abs | sp.sign), lambda e: _REAL[type(e)](*e.args))
    form = form.replace(
        lambda e: isinstance(e, sp.Pow) and (e.base.is_zero or e.base is sp.zoo),
        lambda e: _ZeroPower(e.exp if e.base.is_zero else -e.exp),
    )
    # Primitives whose derivative holds an unscaled Bessel function differentiate in scaled ones.
    form = form.replace(
        lambda e: isinstance(e, ActFunction) and _unspelled(type(e), len(e.args)), lambda e: _spelled(type(e))(*e.args)
    )
    derived = sp.diff(form, symbol)
    derived = derived.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    stand_ins = (_RealAbs, _RealSign, _ZeroPower, _Spelled)
    derived = derived.replace(lambda e: isinstance(e, stand_ins), lambda e: e.original())
    if derived.has(sp.Derivative, sp.Subs):
        inner = next(iter(derived.atoms(sp.Derivative, sp.Subs)))
        raise UnsupportedError(
            f"the derivative of {expr} has no closed form: sympy leaves {inner} unevaluated "
            "(an opaque primitive has no elementary form to differentiate)"
        )
    if derived.has(sp.I):  # e.g. (−1)^x, a constant negative base: NaN off the integers
        raise UnsupportedError(f"the derivative of {expr} is not real ({derived}); actlang cannot write it")
    zero_powers = derived.replace(lambda e: isinstance(e, sp.Pow) and e.base is sp.zoo, lambda e: sp.S.One)
    if zero_powers.has(sp.zoo, sp.nan, sp.oo, -sp.oo):  # e.g. x/zero(x): infinite or NaN everywhere
        raise UnsupportedError(f"the derivative of {expr} is not finite ({derived}); actlang cannot write it")
    derived = _scaled_bessel(derived) if derived.has(sp.besseli) else derived
    return _masked(derived)


def _masked(derived: sp.Expr) -> sp.Expr:
    """A product with a step that is 0 on some branch (``relu'``, ``hardtanh'``, a ``select``)
    folded into the step, so that branch is 0 whatever the other factors are there, as autograd's
    masking has it: d/dx ``sqrt(relu(x))`` is ``select(x, 0.5/sqrt(relu(x)), 0)``, 0 (not 0·∞)
    for x < 0, where the function is constant."""

    def stepped(e: sp.Basic) -> bool:
        return isinstance(e, sp.Piecewise) and any(value == 0 for value, _ in e.args)

    def fold(product: sp.Mul) -> sp.Expr:
        factors = list(product.args)
        step = factors.pop(next(i for i, f in enumerate(factors) if stepped(f)))
        rest = sp.Mul(*factors)
        return sp.Piecewise(*((value * rest if value != 0 else sp.S.Zero, cond) for value, cond in step.args))

    return derived.replace(lambda e: isinstance(e, sp.Mul) and any(stepped(f) for f in e.args), fold)


class _RealAbs(sp.Function):
    """|u| of a real (or NaN) u, whatever sympy knows about u: its derivative is sign(u)."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.sign(self.args[0])

    def original(self) -> sp.Expr:
        return sp.Abs(self.args[0])


class _RealSign(sp.Function):
    """sign(u) of a real (or NaN) u: its derivative is 0 (a Dirac delta, dropped)."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    def original(self) -> sp.Expr:
        return sp.sign(self.args[0])


class _ZeroPower(sp.Function):
    """0^u: 0 for u > 0, 1 at 0, inf below (NaN for NaN u); its derivative is 0 (a step)."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    def original(self) -> sp.Expr:
        return sp.Pow(sp.S.Zero, self.args[0])


_REAL = {sp.Abs: _RealAbs, sp.sign: _RealSign}


class _Spelled(ActFunction):
    """A generated class whose derivative is written with ``bessel_i0e``/``bessel_i1e``."""

    base: type[ActFunction] = ActFunction

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        form = _spelled_derivative(self.base, argindex)
        return form.xreplace(dict(zip(dummies(len(self.args)), self.args, strict=True)))

    def original(self) -> sp.Expr:
        return self.base(*self.args)


def _unspelled(cls: type[ActFunction], count: int) -> bool:
    """Whether a derivative of ``cls`` holds ``besseli`` (``bessel_i1e``' = (I₀ + I₂)/2·e^{−|u|} − ...)."""
    return any(derivative_form(cls.primitive, cls.hyper, i).has(sp.besseli) for i in range(1, count + 1))


@functools.cache
def _spelled(cls: type[ActFunction]) -> type[_Spelled]:
    attrs = {"base": cls, "primitive": cls.primitive, "hyper": cls.hyper, "arity": cls.arity, "__module__": __name__}
    if isinstance(cls.nargs, sp.FiniteSet):
        attrs["nargs"] = tuple(cls.nargs)
    return type(cls.__name__, (_Spelled,), attrs)


@functools.cache
def _spelled_derivative(cls: type[ActFunction], argindex: int) -> sp.Expr:
    """``derivative_form`` of ``cls`` with Bessel functions scaled, tidied piece by piece:
    bessel_i1e' is ``i0e(u) − i1e(u)·(1/u + sign(u))`` off 0 and ``i0e(u)/2 − i1e(u)·sign(u)`` at 0."""
    form = sp.piecewise_fold(_scaled_bessel(derivative_form(cls.primitive, cls.hyper, argindex)))
    if isinstance(form, sp.Piecewise):
        return sp.Piecewise(*((sp.expand(value), condition) for value, condition in form.args))
    return form


def _scaled_bessel(derived: sp.Expr) -> sp.Expr:
    """``derived`` with every ``besseli(n, u)`` (integer ``n``) written as ``e^{|u|}`` times a
    form in ``bessel_i0e(u)`` and ``bessel_i1e(u)`` (actlang spells I₀ and I₁ only scaled), the
    e-powers cancelled against the ``e^{−|u|}`` they come with. ``Iₙ`` for ``n ≥ 2`` comes from
    the recurrence ``Iₙ = Iₙ₋₂ − 2(n−1)/u·Iₙ₋₁``, and is 0 at ``u = 0``."""

    def scaled(order: sp.Expr, u: sp.Expr) -> sp.Expr:
        if not order.is_Integer:
            raise UnsupportedError(f"besseli({order}, {u}) has no actlang spelling (primitives: orders 0 and 1)")
        n = abs(int(order))  # I₋ₙ = Iₙ for an integer n
        forms = [function_class("bessel_i0e", ())(u), function_class("bessel_i1e", ())(u)]
        for k in range(2, n + 1):
            forms.append(forms[k - 2] - 2 * (k - 1) / u * forms[k - 1])
        return forms[n] if n < 2 else sp.Piecewise((forms[n], sp.Abs(u) > 0), (sp.S.Zero, True))

    rewritten = derived.replace(
        lambda e: isinstance(e, sp.besseli), lambda e: sp.exp(sp.Abs(e.args[1])) * scaled(*e.args)
    )
    return sp.powsimp(sp.expand_mul(rewritten))
