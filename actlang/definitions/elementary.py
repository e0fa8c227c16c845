"""Elementary functions, with PyTorch semantics (NaN/inf exactly where torch has them)."""

from __future__ import annotations

from actlang.definitions.lazy import np, special
from actlang.registry import Hyper, Primitive, define


def _unary(name: str, doc: str, torch: str, numpy, sympy, aquasurf: str | None = None, **extra) -> None:
    define(
        Primitive(
            name=name, doc=doc, source=extra.pop("source", f"torch {torch.split('(')[0]}"),
            torch=torch, numpy=numpy, sympy=sympy, aquasurf=aquasurf, **extra,
        )
    )


_unary("abs", "|x|", "torch.abs({0})", np.abs, lambda sp, x: sp.Abs(x), "abs")
_unary("square", "x²", "torch.square({0})", np.square, lambda sp, x: x**2, "square")
_unary("reciprocal", "1/x (±inf at 0)", "torch.reciprocal({0})", np.reciprocal, lambda sp, x: 1 / x, "reciprocal")
_unary("exp", "eˣ", "torch.exp({0})", np.exp, lambda sp, x: sp.exp(x), "exp")
_unary("expm1", "eˣ − 1, accurate near 0", "kernels.expm1({0})", np.expm1, lambda sp, x: sp.exp(x) - 1, "expm1")
_unary("log", "natural log (−inf at 0, NaN below)", "torch.log({0})", np.log, lambda sp, x: sp.log(x))
_unary("log1p", "log(1 + x), accurate near 0", "torch.log1p({0})", np.log1p, lambda sp, x: sp.log(1 + x))
_unary("sqrt", "√x (NaN below 0)", "torch.sqrt({0})", np.sqrt, lambda sp, x: sp.sqrt(x))
_unary("sin", "sine", "torch.sin({0})", np.sin, lambda sp, x: sp.sin(x))
_unary("cos", "cosine", "torch.cos({0})", np.cos, lambda sp, x: sp.cos(x))
_unary("sinh", "hyperbolic sine", "torch.sinh({0})", np.sinh, lambda sp, x: sp.sinh(x), "sinh")
_unary("cosh", "hyperbolic cosine", "torch.cosh({0})", np.cosh, lambda sp, x: sp.cosh(x), "cosh")
_unary("tanh", "hyperbolic tangent", "torch.tanh({0})", np.tanh, lambda sp, x: sp.tanh(x), "tanh",
       vjp="torch.ops.aten.tanh_backward({g}, {y})")
_unary("asinh", "inverse hyperbolic sine", "torch.asinh({0})", np.arcsinh, lambda sp, x: sp.asinh(x),
       "arcsinh", aliases=("arcsinh",),  # as autograd's formula: g·(x² + 1)^(-1/2)
       vjp="torch.mul(torch.rsqrt(torch.square({0}).add_(1.0)), {g})",
       local="torch.square({0}).add_(1.0).rsqrt_()")
_unary("atan", "inverse tangent", "torch.atan({0})", np.arctan, lambda sp, x: sp.atan(x),
       "arctan", aliases=("arctan",))
_unary("erf", "error function", "torch.special.erf({0})", special.erf, lambda sp, x: sp.erf(x), "erf")
_unary("erfc", "complementary error function 1 − erf(x)", "torch.special.erfc({0})", special.erfc,
       lambda sp, x: sp.erfc(x), "erfc")
# erfc(−x/√2)/2 keeps full relative accuracy in the lower tail, where torch.special.ndtr
# (via 1 + erf) loses it below x ≈ -6.6 (relative error 6e-6 at Φ ≈ 1e-11).
_unary("ndtr", "standard normal CDF Φ(x)", "0.5 * torch.special.erfc(-0.7071067811865476 * {0})", special.ndtr,
       lambda sp, x: (1 + sp.erf(x / sp.sqrt(2))) / 2, source="torch.special.ndtr, computed via erfc")
_unary("bessel_i0e", "e^{−|x|}·I₀(x), exponentially scaled Bessel", "torch.special.i0e({0})", special.i0e,
       lambda sp, x: sp.exp(-sp.Abs(x)) * sp.besseli(0, x), "bessel_i0e")
_unary("bessel_i1e", "e^{−|x|}·I₁(x), exponentially scaled Bessel", "kernels.i1e({0})", special.i1e,
       lambda sp, x: sp.exp(-sp.Abs(x)) * sp.besseli(1, x), "bessel_i1e",
       source="torch.special.i1e (float32 for half precision)")
_unary("zero", "0, shaped like x", "torch.zeros_like({0})", np.zeros_like, lambda sp, x: sp.Integer(0), "zero",
       source="AQuaSurF constant operator")
_unary("one", "1, shaped like x", "torch.ones_like({0})", np.ones_like, lambda sp, x: sp.Integer(1), "one",
       source="AQuaSurF constant operator")
_unary("identity", "x", "{0}", np.positive, lambda sp, x: x, "identity", source="AQuaSurF identity operator")

# Kink and branch primitives. Derivatives of piecewise activations are written with these, so
# their values at kinks follow PyTorch's autograd (heaviside[zero=0.5] is torch.maximum's tie
# rule; relu'(0) = 0 is select(x, 1, 0)).
# torch.sign(NaN) is 0; the where keeps NaN where the math has it (and numpy's sign does). NaN
# passes as x·0, not x: autograd then gives the step's derivative, 0, at NaN too (through x
# itself it gave 1, where the fused path's derivative gives 0).
_unary("sign", "−1, 0 or 1 as x is negative, zero or positive (NaN stays NaN)",
       "torch.where(torch.isnan({0}), {0} * 0.0, torch.sign({0}))", np.sign, lambda sp, x: sp.sign(x),
       source="torch.sign")
define(
    Primitive(
        name="heaviside", doc="step: 0 for x < 0, 1 for x > 0, `zero` at 0", source="torch.heaviside",
        # Comparisons instead of torch.heaviside, which has no autograd formula: the step's
        # derivative is 0 wherever it exists, and that is what the comparisons give. `zero` is
        # selected, not added to 0.0 (0.0 + -0.0 is +0.0: zero=-0.0 would lose its sign).
        torch="torch.where(torch.isnan({0}), {0} * 0.0, torch.where({0} == 0, {zero}, ({0} > 0).to({0}.dtype)))",
        numpy=lambda x, zero: np.heaviside(x, zero),
        sympy=lambda sp, x, zero: sp.Heaviside(x, sp.Rational(repr(zero))),
        hyper=(Hyper("zero", "float", 0.5, low=0, high=1, doc="value at 0"),),
    )
)
define(
    Primitive(
        name="select", doc="b where a > 0, else c: torch.where(a > 0, b, c)", source="torch.where",
        torch="torch.where({0} > 0, {1}, {2})", numpy=lambda c, a, b: np.where(c > 0, a, b),
        sympy=lambda sp, c, a, b: sp.Piecewise((a, c > 0), (b, True)), arity=3,
    )
)
