"""Operators: what infix syntax means (``+ - * / ^`` and prefix ``-``), plus max/min and the
variadic reductions AQuaSurF uses. Division and powers follow IEEE and torch: ``x/0`` is ±inf and
a negative base to a non-integer power is NaN."""

from __future__ import annotations

import functools

from actlang.definitions.lazy import np
from actlang.registry import ATOM, POWER, PRODUCT, SUM, UNARY, Operator, Primitive, define

_SRC = "arithmetic (IEEE semantics, as torch)"


def _binary(name: str, doc: str, torch: str, numpy, sympy, operator: Operator | None = None) -> None:
    define(
        Primitive(
            name=name, doc=doc, source=_SRC, torch=torch, numpy=numpy, sympy=sympy, arity=2,
            operator=operator, number_operands=operator is not None, aquasurf=name, tags=frozenset({"operator"}),
        )
    )


def _arithmetic(symbol: str, level: int, function: str, commutative: bool = False) -> Operator:
    """A left-associative binary operator written with spaces: ``a - b - c`` is ``(a - b) - c``."""
    return Operator((symbol,), f"{{0}} {symbol} {{1}}", level, (level, level + 1), function, commutative)


_binary("add", "a + b", "{0} + {1}", np.add, lambda sp, a, b: a + b, _arithmetic("+", SUM, "torch.add", True))
_binary("sub", "a - b", "{0} - {1}", np.subtract, lambda sp, a, b: a - b, _arithmetic("-", SUM, "torch.sub"))
_binary("mul", "a · b", "{0} * {1}", np.multiply, lambda sp, a, b: a * b, _arithmetic("*", PRODUCT, "torch.mul", True))
_binary("div", "a / b (x/0 = ±inf, 0/0 = NaN)", "{0} / {1}", np.divide, lambda sp, a, b: a / b,
        _arithmetic("/", PRODUCT, "torch.div"))
def _power(a, b):
    """torch.pow: IEEE's pow, except that a constant exponent of −0.5 (a number, as the compiler
    writes it: ``torch.pow(x, -0.5)``) is torch's rsqrt, −inf at −0 and NaN at −inf, where pow
    gives +inf and 0. A learned exponent (an array here, a tensor there) is pow's."""
    if isinstance(b, float) and b == -0.5:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 / np.sqrt(a)
    return np.power(a, b)


# Right-associative and tighter than prefix minus (-x^2 is -(x^2)); the exponent may be a prefix
# minus (2^-x). Its template is a call, not Python arithmetic, so it names no function.
_binary(
    "pow", "a ^ b (NaN for a negative base and a non-integer exponent)",
    "torch.pow({0}, {1})", _power, lambda sp, a, b: a**b, Operator(("^", "**"), "{0}^{1}", POWER, (ATOM, UNARY)),
)


def _maximum(a, b):
    """torch.maximum: NaN if either is NaN, and ``a`` on a tie (max(−0, +0) = −0; np.maximum gives b)."""
    return np.where(np.isnan(a) | (a >= b), a, b)


def _minimum(a, b):
    """torch.minimum: NaN if either is NaN, and ``a`` on a tie (min(+0, −0) = +0)."""
    return np.where(np.isnan(a) | (a <= b), a, b)


_binary("max", "larger of a and b (NaN if either is NaN)", "torch.maximum({0}, {1})", _maximum,
        lambda sp, a, b: sp.Max(a, b))
_binary("min", "smaller of a and b (NaN if either is NaN)", "torch.minimum({0}, {1})", _minimum,
        lambda sp, a, b: sp.Min(a, b))

define(
    Primitive(
        name="neg", doc="−a", source=_SRC, torch="-{0}", numpy=np.negative, sympy=lambda sp, a: -a,
        aliases=("negative",), operator=Operator(("-",), "-{0}", UNARY, (UNARY,), "torch.neg"), number_operands=True,
        aquasurf="negative", tags=frozenset({"operator"}),
    )
)


def _variadic(name: str, doc: str, join: str, numpy_op, sympy_op, folds: str) -> None:
    def torch(args, names, join=join):
        if join in ("+", "*"):
            return "(" + f" {join} ".join(args) + ")"
        return functools.reduce(lambda a, b: f"torch.{join}({a}, {b})", args)

    define(
        Primitive(
            name=name, doc=doc, source="AQuaSurF n-ary operators", torch=torch,
            numpy=lambda *args: functools.reduce(numpy_op, args),
            sympy=lambda sp, *args: sympy_op(sp)(*args), arity=None, min_args=1, aquasurf=name,
            number_operands=join in ("+", "*"), folds=folds, tags=frozenset({"operator"}),
        )
    )


_variadic("sum_n", "a + b + ... (any number of arguments)", "+", np.add, lambda sp: sp.Add, "add")
_variadic("prod_n", "a · b · ... (any number of arguments)", "*", np.multiply, lambda sp: sp.Mul, "mul")
_variadic("max_n", "largest argument (NaN if any is NaN)", "maximum", _maximum, lambda sp: sp.Max, "max")
_variadic("min_n", "smallest argument (NaN if any is NaN)", "minimum", _minimum, lambda sp: sp.Min, "min")
