"""Every primitive's torch implementation and sympy form agree with its independent numpy reference.

Parametrized over :func:`actlang.primitives`, so a new primitive is checked as soon as it is
defined. Torch runs through :func:`actlang.compile` (plain autograd) (the generated straight-line code);
binary and variadic primitives get their extra arguments as learned scalars set to a grid, so one
call covers every pair of grid values.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

import actlang
from actlang.ast import Call, Constant, Expr, Input, Num, Param
from actlang.build import make_call
from actlang.evaluate import evaluate, expand_definition
from actlang.registry import REQUIRED, Primitive

torch = pytest.importorskip("torch")

# Unary grid: dense near 0, exact points where kinks and branches sit, large |x| up to 1e4.
_EDGES = [0.5, 1, 2, 3, 6, 20, 88, 89, 710, 711]  # kinks, float32/float64 exp overflow
_MAGNITUDES = np.concatenate([np.logspace(-8, 4, 61), np.linspace(0.05, 10, 200), _EDGES])
GRID = np.unique(np.concatenate([-_MAGNITUDES, [0.0], _MAGNITUDES]))
# Binary grid (every pair): signs, zero, fractions, integers, large values.
PAIR_VALUES = np.array([-1e3, -30, -3, -2, -1.5, -1, -0.5, -1e-3, 0, 1e-3, 0.5, 1, 1.5, 2, 3, 30, 1e3])
EXTRA_NAMES = ("q", "r")


def hyper_variants(primitive: Primitive) -> list[dict]:
    """Default hyperparameters, plus one non-default value per hyperparameter where one exists."""
    base = {h.name: h.default for h in primitive.hyper if h.default is not REQUIRED}
    variants = [base]
    if len(base) < len(primitive.hyper) or _skip_reason(primitive):
        return variants  # primitives skipped below get one (skipped) case
    for spec in primitive.hyper:
        candidates = list(spec.choices) if spec.kind == "choice" else [2.0, 0.5, 0.2, 3.0, True, False]
        for value in candidates:
            try:
                value = spec.coerce(value)
            except ValueError:
                continue
            if value != spec.default:
                variant = base | {spec.name: value}
                if primitive.check is None or primitive.check(variant) is None:
                    variants.append(variant)
                    if spec.kind != "choice":
                        break
    return variants


def _skip_reason(primitive: Primitive) -> str | None:
    if primitive.module is not None:
        return f"{primitive.name} is a module primitive; actlang.compile builds it (compiler tests cover it)"
    if not primitive.pointwise:
        return f"{primitive.name} is not pointwise; its statistics need the compiler"
    if any(h.default is REQUIRED for h in primitive.hyper):
        return f"{primitive.name} has required hyperparameters; tested with its compiler"
    return None


CASES = [
    pytest.param(p, hp, id=f"{p.name}-{'-'.join(f'{k}={v}' for k, v in hp.items()) or 'default'}")
    for p in actlang.primitives()
    for hp in hyper_variants(p)
]


def build(primitive: Primitive, hp: dict, count: int) -> tuple[Expr, np.ndarray, dict]:
    """The call, its input points and the extra-argument grids, for ``count`` arguments."""
    args: list[Expr] = [Input(), *(Param(n) for n in EXTRA_NAMES[: count - 1])]
    expr = make_call(primitive.name, args, [(k, v, None) for k, v in hp.items()])
    if count == 1:
        return expr, GRID.copy(), {}
    mesh = np.meshgrid(*([PAIR_VALUES] * count), indexing="ij")
    flat = [m.ravel() for m in mesh]
    return expr, flat[0], dict(zip(EXTRA_NAMES, flat[1:], strict=False))


def arg_counts(primitive: Primitive) -> list[int]:
    return [primitive.arity] if primitive.arity is not None else [primitive.min_args, primitive.min_args + 1, 3]


def run_torch(expr: Expr, xs: np.ndarray, extra: dict, dtype) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = actlang.compile(expr, memory_efficient=False).to(dtype).eval()
    with torch.no_grad():
        for name, values in extra.items():
            setattr(module, name, torch.nn.Parameter(torch.as_tensor(values, dtype=dtype)))
        return module(torch.as_tensor(xs, dtype=dtype)).double().numpy()


def assert_same_specials(got: np.ndarray, want: np.ndarray, where: np.ndarray) -> None:
    """NaN exactly where the reference has NaN, and the same infinities."""
    bad = np.isnan(got) != np.isnan(want)
    assert not bad.any(), f"NaN mismatch at {where[bad][:5]}: got {got[bad][:5]}, reference {want[bad][:5]}"
    inf = np.isinf(want) | np.isinf(got)
    bad = inf & (got != want)
    assert not bad.any(), f"inf mismatch at {where[bad][:5]}: got {got[bad][:5]}, reference {want[bad][:5]}"


@pytest.mark.parametrize(("primitive", "hp"), CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_matches_reference(primitive: Primitive, hp: dict, dtype: str) -> None:
    if reason := _skip_reason(primitive):
        pytest.skip(reason)
    torch_dtype = getattr(torch, dtype)
    for count in arg_counts(primitive):
        expr, xs, extra = build(primitive, hp, count)
        if dtype == "float32":  # compare at the float32 points, against the float32-rounded truth
            xs = xs.astype(np.float32).astype(np.float64)
            extra = {k: v.astype(np.float32).astype(np.float64) for k, v in extra.items()}
        want = evaluate(expr, xs, extra)
        got = run_torch(expr, xs, extra, torch_dtype)
        if dtype == "float32":
            with np.errstate(over="ignore"):
                want = want.astype(np.float32).astype(np.float64)
        info = np.finfo(dtype)
        # PyTorch's sinh/cosh overflow slightly before the exact value does (|x| > 709.78 in
        # float64); a result within a factor 4 of the largest float counts as overflowing.
        near_overflow = np.isinf(got) & (np.abs(want) > float(info.max) / 4) & (np.sign(got) == np.sign(want))
        want = np.where(near_overflow, got, want)
        assert_same_specials(got, want, xs)
        # Relative 1e-6 (float64) or 2e-5 (float32), plus an absolute floor of a few ulp of the
        # inputs' size, for results that cancel to near 0 (x - tanh(x), sums of large terms).
        scale = 1 + np.abs(xs) + sum(np.abs(v) for v in extra.values())
        rtol, floor = (1e-6, float(info.eps)) if dtype == "float64" else (2e-5, 4 * float(info.eps))
        assert_close(got, want, rtol, floor * scale, xs, str(expr))


def assert_close(got: np.ndarray, want: np.ndarray, rtol: float, atol, where: np.ndarray, what: str) -> None:
    """``|got - want| <= rtol·|want| + atol`` wherever the reference is finite."""
    finite = np.isfinite(want)
    with np.errstate(invalid="ignore"):
        error = np.where(finite, np.abs(got - want), 0.0)
    bad = error > rtol * np.abs(want) + atol
    assert not bad.any(), f"{what}: at x={where[bad][:5]} got {got[bad][:5]}, reference {want[bad][:5]}"


# ---- the sympy elementary forms ------------------------------------------------------------

X = sp.Symbol("x", real=True)


def to_sympy(expr: Expr, x: sp.Expr, values: dict[str, sp.Expr]) -> sp.Expr:
    """Sympy form of ``expr`` from the primitives' ``sympy`` fields and actlang definitions."""
    match expr:
        case Num(value=value):
            return sp.Float(value, 30) if not float(value).is_integer() else sp.Integer(int(value))
        case Input():
            return x
        case Constant(name=name):
            return sp.pi if name == "pi" else sp.E
        case Param(name=name):
            return values[name]
        case Call(name=name, args=args, hyper=hyper):
            primitive = actlang.lookup(name)
            converted = [to_sympy(a, x, values) for a in args]
            learned = {lt.name: sp.Float(lt.initial(dict(hyper)), 30) for lt in primitive.learned}
            if primitive.sympy is not None:
                return primitive.sympy(sp, *converted, **dict(hyper), **learned)
            body = expand_definition(primitive, hyper)
            return to_sympy(body, converted[0], {})
    raise TypeError(expr)


SYMPY_GRID = np.unique(np.concatenate([np.linspace(-20, 20, 81), [-1e-3, 1e-3, -0.3, 0.3, 0.7, -0.7]]))


@pytest.mark.parametrize(("primitive", "hp"), CASES)
def test_sympy_form_matches_reference(primitive: Primitive, hp: dict) -> None:
    if primitive.opaque:
        pytest.skip(f"{primitive.name} is opaque: no elementary sympy form")
    if reason := _skip_reason(primitive):
        pytest.skip(reason)
    for count in arg_counts(primitive):
        expr, xs, extra = build(primitive, hp, count)
        if count == 1:
            xs = SYMPY_GRID
        symbols = {name: sp.Symbol(name, real=True) for name in extra}
        form = to_sympy(expr, X, symbols)
        fn = sp.lambdify([X, *symbols.values()], form, modules="mpmath")
        want = independent_reference(primitive, expr, xs, extra)
        with mpmath.workdps(40):
            got = np.array([_mp(fn, xs[i], *(v[i] for v in extra.values())) for i in range(len(xs))])
        # Poles (reference ±inf) have no sign in sympy (zoo); elsewhere NaN must match exactly.
        pole = np.isinf(want)
        assert_same_specials(got[~pole], want[~pole], xs[~pole])
        assert_close(got, want, 1e-6, 1e-12, xs, f"{expr} = {form}")


def independent_reference(primitive: Primitive, expr: Expr, xs: np.ndarray, extra: dict) -> np.ndarray:
    """Values of ``expr`` from an implementation that does not read the primitive's actlang
    definition (the sympy form of a definition-only primitive is that definition): its numpy
    reference, else its torch template in float64."""
    if primitive.numpy is not None or primitive.definition is None:
        return evaluate(expr, xs, extra)
    assert primitive.torch is not None, f"{primitive.name}: a definition needs a numpy reference or a torch template"
    return run_torch(expr, xs, extra, torch.float64)


def test_every_definition_has_an_independent_implementation() -> None:
    """A primitive written in actlang also has a numpy reference or a torch template (or builds
    its own module) that the tests compare its definition with."""
    for primitive in actlang.primitives():
        if primitive.definition is not None:
            assert primitive.numpy or primitive.torch or primitive.module, primitive.name


def _mp(fn, *values: float) -> float:
    """The form at one point in 40-digit arithmetic, mapped to IEEE conventions (inf, NaN)."""
    try:
        value = fn(*(mpmath.mpf(v) for v in values))
    except ZeroDivisionError:
        return math.nan  # resolved below by the reference's own inf/NaN check
    except (ValueError, TypeError):
        return math.nan
    if isinstance(value, mpmath.mpc):
        return math.nan if value.imag != 0 else float(value.real)
    return float(value)


@pytest.mark.parametrize(("dtype", "bound"), [(torch.float64, 1e-13), (torch.float32, 2e-6)])
def test_tanhshrink_is_accurate_near_zero(dtype, bound):
    # x − tanh(x) cancels near 0 (F.tanhshrink is exactly 0 below |x| ≈ 3e-4 in float32).
    magnitudes = np.logspace(-12, 1, 261)
    xs = np.concatenate([-magnitudes, magnitudes])
    got = actlang.compile("tanhshrink(x)")(torch.tensor(xs, dtype=dtype)).double().numpy()
    want = actlang.evaluate("tanhshrink(x)", xs)
    assert np.max(np.abs(got - want) / np.abs(want)) <= bound
    inverse = actlang.compile("reciprocal(tanhshrink(x))")(torch.tensor(xs, dtype=torch.float32))
    assert torch.isfinite(inverse).all()  # 1/(x³/3) ≤ 3e36 stays finite in float32
