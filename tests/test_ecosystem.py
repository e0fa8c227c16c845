"""Names from HuggingFace ACT2FN, timm and Keras 3: each compared with its library's formula.

The references below are the libraries' formulas (read from their sources) evaluated in long
double where the formula as written is well conditioned on the points, and through a stated
identity where it is not (½(1 + tanh z) = σ(2z), ½(1 + erf u) = ½·erfc(−u)), so a reference
error never hides or fakes a difference. Every key each library defines is in the table: a key
added to the registry without a reference fails ``test_every_library_key_has_a_reference``.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator

import mpmath
import numpy as np
import pytest
import torch
from scipy import special

import actlang
from actlang.errors import (
    AmbiguousNameWarning,
    ConstantExpressionError,
    ConstantExpressionWarning,
    SuspiciousNameWarning,
    UnsupportedError,
)
from actlang.registry import AMBIGUOUS, COMPOSITES, DIALECTS, LIBRARY_NAMES, NOT_POINTWISE, lookup
from tests.thirdparty import import_timm, import_transformers

L = np.longdouble
POINTS = np.linspace(-8.0, 8.0, 10_000)
SQRT_2_PI = np.sqrt(L(2) / L(math.pi))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _gelu_tanh(x):  # ½x(1 + tanh(√(2/π)(x + 0.044715x³))), via ½(1 + tanh z) = σ(2z)
    return x * _sigmoid(2 * SQRT_2_PI * (x + L("0.044715") * x**3))


def _gelu(x):  # ½x(1 + erf(x/√2)), via ½(1 + erf u) = ½·erfc(−u)
    return 0.5 * x.astype(np.float64) * special.erfc(-x.astype(np.float64) / np.sqrt(2.0))


def _softplus(x):
    return np.log1p(np.exp(x))


def _hardsigmoid(x):  # PyTorch / timm: relu6(x + 3)/6; Keras 3: clip(x/6 + 1/2, 0, 1) — the same function
    return np.clip(x + 3, 0, 6) / 6


def _tanhshrink(x):
    # x − tanh(x) cancels near 0 even in long double: there, 40 digits of mpmath.
    direct = x - np.tanh(x)
    small = np.abs(x) < 0.1
    with mpmath.workdps(40):
        direct[small] = [L(float(mpmath.mpf(float(v)) - mpmath.tanh(mpmath.mpf(float(v))))) for v in x[small]]
    return direct


def _selu(x):
    scale, alpha = L("1.0507009873554804934193349852946"), L("1.6732632423543772848170429916717")
    return scale * np.where(x > 0, x, alpha * np.expm1(x))


def _xielu(x):  # HF XIELUActivation (β = 0.5, ε = −1e-6) at its initial α_p = 0.8, α_n = β + 0.3
    beta = L("0.5")
    alpha_p, alpha_n = _softplus(np.log(np.expm1(L("0.8")))), beta + _softplus(np.log(np.expm1(L("0.3"))))
    return np.where(x > 0, alpha_p * x * x + beta * x, (np.expm1(np.minimum(x, L("-1e-6"))) - x) * alpha_n + beta * x)


FORMULAS = {
    "gelu": _gelu,
    "gelu_python": _gelu,
    "gelu_10": lambda x: np.clip(_gelu(x), -10, 10),
    "gelu_new": _gelu_tanh, "gelu_accurate": _gelu_tanh, "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_python_tanh": _gelu_tanh, "gelu_tanh": _gelu_tanh,
    # HF FastGELU: ½x(1 + tanh(0.7978845608·x(1 + 0.044715x²)))
    "gelu_fast": lambda x: x * _sigmoid(2 * L("0.7978845608") * x * (1 + L("0.044715") * x * x)),
    "quick_gelu": lambda x: x * _sigmoid(L("1.702") * x),
    # HF Laplace: ½(1 + erf((x − μ)/(σ√2))), μ = 0.707107, σ = 0.282095
    "laplace": lambda x: 0.5 * special.erfc(-np.float64((x - L("0.707107")) / (L("0.282095") * np.sqrt(L(2))))),
    "relu2": lambda x: np.maximum(x, 0) ** 2,
    "sqrtsoftplus": lambda x: np.sqrt(_softplus(x)),
    "xielu": _xielu,
    "relu": lambda x: np.maximum(x, 0), "relu6": lambda x: np.clip(x, 0, 6),
    "linear": lambda x: x, "identity": lambda x: x,
    "sigmoid": _sigmoid, "tanh": np.tanh, "silu": lambda x: x * _sigmoid(x), "swish": lambda x: x * _sigmoid(x),
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)), "celu": lambda x: np.maximum(x, 0) + np.minimum(np.expm1(x), 0),
    "selu": _selu,
    "prelu": lambda x: np.where(x >= 0, x, L("0.25") * x),
    "hardsigmoid": _hardsigmoid, "hardswish": lambda x: x * _hardsigmoid(x),
    "hard_swish": lambda x: x * _hardsigmoid(x), "hard_silu": lambda x: x * _hardsigmoid(x),
    "hard_mish": lambda x: 0.5 * x * np.clip(x + 2, 0, 2),  # timm: ½x·clamp(x + 2, 0, 2)
    "softplus": _softplus, "softsign": lambda x: x / (1 + np.abs(x)),
    "log_sigmoid": lambda x: -_softplus(-x),
    "soft_shrink": lambda x: np.where(x > 0.5, x - L("0.5"), np.where(x < -0.5, x + L("0.5"), 0)),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "tanh_shrink": _tanhshrink,
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,  # Keras: (x + √(x² + b))/2, b = 4
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x < 1, (x + 1) ** 2 / 4, x)),
    "sparse_sigmoid": lambda x: np.clip((x + 1) / 2, 0, 1),
    "exponential": np.exp,
}
# Where the libraries disagree, the reference is per library.
PER_LIBRARY = {
    ("timm", "hard_sigmoid"): _hardsigmoid,
    ("keras", "hard_sigmoid"): _hardsigmoid,  # Keras 3: clip(x/6 + 1/2, 0, 1)
    ("keras", "leaky_relu"): lambda x: np.where(x >= 0, x, L("0.2") * x),  # Keras 3 negative_slope=0.2
    ("hf", "leaky_relu"): lambda x: np.where(x >= 0, x, L("0.01") * x),  # nn.LeakyReLU()
    ("timm", "leaky_relu"): lambda x: np.where(x >= 0, x, L("0.01") * x),
}
CASES = [(lib, key) for lib, keys in LIBRARY_NAMES.items() if lib in ("hf", "timm", "keras") for key in keys]


@contextlib.contextmanager
def float64_parameters() -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _reference(library: str, key: str) -> np.ndarray:
    formula = PER_LIBRARY.get((library, key)) or FORMULAS[key]
    return np.asarray(formula(POINTS.astype(L)), dtype=np.float64)


# xIELU crosses zero at x ≈ −2.433, where its two terms (each ~1.2) cancel: there no float64
# evaluation of the formula is relative-accurate, so it gets one rounding at the scale of x.
FLOOR = {"xielu": 4 * np.finfo(np.float64).eps * np.abs(POINTS)}


def _assert_close(got: np.ndarray, want: np.ndarray, what: str, floor: np.ndarray | float = 0.0) -> None:
    # 1e-12 relative; where the formula is exactly 0, exactly 0.
    error = np.abs(got - want)
    bad = np.flatnonzero(~(error <= 1e-12 * np.abs(want) + floor))
    first = bad[0] if bad.size else 0
    assert bad.size == 0, f"{what}: {bad.size} points off, e.g. x={POINTS[first]!r}: {got[first]!r} vs {want[first]!r}"


def test_every_library_key_has_a_reference() -> None:
    missing = [(lib, key) for lib, key in CASES if (lib, key) not in PER_LIBRARY and key not in FORMULAS]
    assert not missing
    # every composite is some library's name, so every composite is compared below
    named = {key for _, key in CASES}
    assert set(COMPOSITES) <= named | {"gelu_python_tanh"}


@pytest.mark.parametrize(("library", "key"), CASES, ids=[f"{lib}:{key}" for lib, key in CASES])
def test_alias_matches_the_library_formula(library: str, key: str) -> None:
    expr = actlang.parse(key, dialect=library)
    want = _reference(library, key)
    floor = FLOOR.get(key, 0.0)
    _assert_close(actlang.evaluate(expr, POINTS), want, f"evaluate({expr})", floor)
    with float64_parameters():  # learned initial values (xielu's) unrounded
        module = actlang.compile(expr).eval()
    with torch.no_grad():
        got = module(torch.from_numpy(POINTS)).numpy()
    _assert_close(got, want, f"compile({expr})", floor)


def test_aliases_print_canonically_and_round_trip() -> None:
    for name, alias in COMPOSITES.items():
        expr = actlang.parse(name)
        assert str(expr) == str(actlang.parse(alias.text))
        assert actlang.parse(str(expr)) == expr
    assert str(actlang.parse("gelu_new")) == "gelu[approximate=tanh](x)"
    assert str(actlang.parse("quick_gelu(2 * x)")) == "2 * x * sigmoid(1.702 * (2 * x))"


def test_alias_of_one_primitive_takes_its_free_hyperparameters() -> None:
    assert actlang.parse("hard_tanh[min=0](x)") == actlang.parse("hardtanh[min=0](x)")
    assert actlang.parse("soft_shrink(x, lambd=0.25)") == actlang.parse("softshrink[lambd=0.25](x)")
    with pytest.raises(actlang.HyperparameterError, match="sets 'approximate' itself"):
        actlang.parse("gelu_tanh[approximate=none](x)")
    with pytest.raises(actlang.HyperparameterError, match="takes no hyperparameters"):
        actlang.parse("quick_gelu[beta=2](x)")
    with pytest.raises(actlang.ArityError):
        actlang.parse("relu2(x, x)")


def test_real_transformers_act2fn_agrees() -> None:
    import_transformers()
    from transformers import activations

    x = torch.from_numpy(POINTS)
    for key in LIBRARY_NAMES["hf"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls, kwargs = activations.ACT2CLS[key] if isinstance(activations.ACT2CLS[key], tuple) else (
                activations.ACT2CLS[key], {"dtype": torch.float64} if key == "xielu" else {})
            layer = cls(**kwargs)
        with torch.no_grad():
            want = layer.double()(x).numpy()
            with float64_parameters():
                got = actlang.compile(actlang.parse(key, dialect="hf")).eval()(x).numpy()
        # HF's float64 kernels round on their own (1 + tanh cancels in the tail): absolute 1e-13
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, err_msg=key)


def test_real_timm_activations_agree() -> None:
    import_timm()
    from timm.layers import create_act
    x = torch.from_numpy(POINTS)
    for key in LIBRARY_NAMES["timm"]:
        layer = create_act.get_act_layer(key)()
        with torch.no_grad():
            want = layer.double()(x.clone()).numpy()
            got = actlang.compile(actlang.parse(key, dialect="timm")).double().eval()(x).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, err_msg=key)


# ---- the names that mean different functions in different libraries ---------------------------


def test_hard_sigmoid_without_a_dialect_warns_and_names_both_meanings() -> None:
    with pytest.warns(AmbiguousNameWarning, match="hardsigmoid") as record:
        expr = actlang.parse("hard_sigmoid(x) * 2")
    assert "dialect" in str(record[0].message)
    np.testing.assert_allclose(actlang.evaluate(expr, [1.0]), [2 * 0.7])  # Keras 2: clip(0.2x + 0.5)
    with pytest.warns(AmbiguousNameWarning):
        actlang.compile("x * hard_sigmoid")


@pytest.mark.parametrize("dialect", ["aquasurf", "actlang"])
def test_hard_sigmoid_in_aquasurfs_dialect_is_keras2_and_silent(dialect: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expr = actlang.parse("prod_n(sigmoid(x),negative(x),hard_sigmoid(x))", dialect=dialect)
    assert actlang.evaluate(expr, [1.0])[0] == pytest.approx(-special.expit(1.0) * 0.7)


@pytest.mark.parametrize("dialect", ["timm", "keras"])
def test_hard_sigmoid_in_timm_and_keras_is_pytorchs(dialect: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expr = actlang.parse("hard_sigmoid", dialect=dialect)
        module = actlang.compile("hard_sigmoid(x)", dialect=dialect)
    assert str(expr) == "hardsigmoid(x)"
    x = torch.tensor([-4.0, -1.0, 0.5, 2.0, 4.0])
    torch.testing.assert_close(module(x), torch.nn.functional.hardsigmoid(x))


def test_leaky_relu_slope_follows_the_dialect() -> None:
    assert actlang.parse("leaky_relu").hp["slope"] == 0.01  # PyTorch's, HF's and timm's default
    assert actlang.parse("leaky_relu", dialect="keras").hp["slope"] == 0.2  # Keras 3's
    assert actlang.parse("leaky_relu[slope=0.3](x)", dialect="keras").hp["slope"] == 0.3
    assert actlang.parse("leaky_relu", dialect="hf").hp["slope"] == 0.01


def test_no_name_changes_meaning_between_libraries_silently() -> None:
    """Every key a library reads differently from actlang either warns without a dialect or
    says so in its primitive's one-line doc (what ``actlang list`` prints)."""
    shown = {"keras": "Keras 3", "timm": "timm", "hf": "HuggingFace"}
    differing = [(lib, key) for lib, table in DIALECTS.items() for key in table]
    assert ("keras", "leaky_relu") in differing and ("timm", "hard_sigmoid") in differing
    for library, key in differing:
        mine, theirs = actlang.parse(key, dialect="actlang"), actlang.parse(key, dialect=library)
        assert mine != theirs
        documented = lookup(key) is not None and shown[library] in lookup(key).doc
        assert key in AMBIGUOUS or documented, f"{library} reads {key} differently, unannounced"


def test_unknown_dialect_is_an_actlang_error() -> None:
    with pytest.raises(actlang.ActlangError, match=r"unknown dialect 'tf'.*keras"):
        actlang.parse("relu(x)", dialect="tf")


# ---- not elementwise ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NOT_POINTWISE))
@pytest.mark.parametrize("form", ["{}(x)", "{}", "x + {}(2 * x)"])
def test_axis_activations_are_refused_with_the_reason(name: str, form: str) -> None:
    with pytest.raises(UnsupportedError, match="not elementwise") as info:
        actlang.parse(form.format(name))
    assert NOT_POINTWISE[name].split(" ")[1] in info.value.message  # the reason, not just the refusal
    assert info.value.column is not None


# ---- typos that would train a constant (issue: relu(z), GELU) ----------------------------------


@pytest.mark.parametrize(
    ("text", "hint"),
    [("relu(z)", "'z' is a learned scalar"), ("GELU", "'gelu'"), ("Silu * 2", "'silu'"),
     ("sigmoid(X)", "'X' is a learned scalar"), ("2 * pi", "the input is written x"), ("ReLu", "'relu'")],
)
def test_constant_activation_is_an_error_with_a_hint(text: str, hint: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SuspiciousNameWarning)
        with pytest.raises(ConstantExpressionError, match="never uses the input x") as info:
            actlang.compile(text, allow_constant=False)
        assert hint in info.value.hint
        with pytest.raises(ConstantExpressionError):
            actlang.act_layer(text)
        with pytest.warns(ConstantExpressionWarning, match=hint):  # compile's default: told, not refused
            actlang.compile(text)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConstantExpressionWarning)
            assert isinstance(actlang.compile(text, allow_constant=True), torch.nn.Module)


@pytest.mark.parametrize("text", ["x * GELU", "Relu + x", "x^SiLU"])
def test_bare_name_matching_a_primitive_ignoring_case_warns(text: str) -> None:
    with pytest.warns(SuspiciousNameWarning, match="did you mean the primitive"):
        actlang.parse(text)


def test_activations_that_use_x_compile_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for text in ("zero(x)", "x * sigmoid(beta * x)", "gelu_new", "quick_gelu(x) + relu2"):
            actlang.compile(text)
