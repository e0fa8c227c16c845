"""A composite primitive is one ``define`` call: its actlang definition and an independent numpy
reference, no torch template. A throwaway one goes through the checks the registry-driven tests
run on every primitive — compile (float32, float64), sympy form against the reference,
derivatives and gradients, export — and is recognised by ``simplify`` at any hyperparameter value.
"""

from __future__ import annotations

import numpy as np
import pytest

import actlang
from actlang.registry import Hyper, Primitive, define, lookup, unregister
from tests import test_compiler_fused, test_primitives, test_symbolic_calculus

torch = pytest.importorskip("torch")

NAME = "gauss_gate_test"


@pytest.fixture(scope="module")
def composite():
    primitive = define(
        Primitive(
            name=NAME, doc="x·exp(−a·x²) (tests only)", source="tests", torch=None,
            numpy=lambda x, a: x / np.exp(a * np.square(x)), definition="x * exp(-a * x^2)",
            hyper=(Hyper("a", "float", 1.0, low=0.0, open_low=True),),
        )
    )
    try:
        yield primitive
    finally:
        unregister(NAME)


def test_it_is_registered_and_needs_nothing_else(composite):
    assert lookup(NAME) is composite and composite in actlang.primitives()
    assert composite.torch is None and not composite.opaque
    assert actlang.format(actlang.parse(f"{NAME}[a=2](x) + 1")) == f"{NAME}[a=2](x) + 1"


def test_compiles_and_matches_its_reference(composite):
    variants = test_primitives.hyper_variants(composite)
    assert len(variants) == 2  # the default and one other value
    for hp in variants:
        for dtype in ("float64", "float32"):
            test_primitives.test_torch_matches_reference(composite, hp, dtype)


def test_sympy_form_matches_its_reference(composite):
    for hp in test_primitives.hyper_variants(composite):
        test_primitives.test_sympy_form_matches_reference(composite, hp)


def test_derivatives_and_gradients(composite):
    test_symbolic_calculus.test_derivative_agrees_with_finite_differences(NAME)
    test_symbolic_calculus.test_derivative_matches_torch_autograd_at_kinks_and_extremes(NAME)
    for text in (f"{NAME}(x)", f"{NAME}[a=0.5](sin(x)) * beta"):
        fused, plain = test_compiler_fused.pair(text)
        y, gradients, _ = test_compiler_fused.grads(fused, test_compiler_fused.XS)
        y_plain, gradients_plain, _ = test_compiler_fused.grads(plain, test_compiler_fused.XS)
        assert torch.allclose(y, y_plain, rtol=1e-12, atol=1e-14)
        for got, want in zip(gradients, gradients_plain, strict=True):
            assert torch.allclose(got, want, rtol=1e-9, atol=1e-12), text


def test_exports(composite, tmp_path):
    module = actlang.compile(f"{NAME}[a=0.5](x) + x")
    x = torch.linspace(-4, 4, 17)
    path = actlang.export(module, tmp_path / "act.pt", format="torchscript")
    assert torch.allclose(torch.jit.load(str(path))(x), module(x), rtol=1e-6, atol=1e-7)
    exported = actlang.export(module, tmp_path / "act.pt2", format="exported", shape=(17,))
    assert torch.allclose(torch.export.load(str(exported)).module()(x), module(x), rtol=1e-6, atol=1e-7)


RECOGNISED = [
    ("x * exp(-x^2)", f"{NAME}(x)"),
    ("x * exp(-(0.5 * x^2))", f"{NAME}[a=0.5](x)"),
    ("sin(x) * exp(-3 * sin(x)^2)", f"{NAME}[a=3](sin(x))"),
]
SQUAREPLUS = [
    ("(x + sqrt(x^2 + 1))/2", "squareplus[b=1](x)"),
    ("(x + sqrt(x^2 + 4))/2", "squareplus(x)"),
    ("(tanh(x) + sqrt(tanh(x)^2 + 0.5))/2", "squareplus[b=0.5](tanh(x))"),
    ("(x + sqrt(x^2 + pi))/2", "(x + sqrt(x^2 + pi)) / 2"),
    ("(x + sqrt(x^2 + beta))/2", "(x + sqrt(x^2 + beta)) / 2"),
]


@pytest.mark.parametrize(("text", "expected"), RECOGNISED)
def test_simplify_recognises_it_at_any_hyperparameter(composite, text, expected):
    assert actlang.format(actlang.simplify(text, budget=30)) == expected


def test_a_primitive_defined_after_the_tables_were_built_is_recognised_and_parsed():
    """define forgets the registry-derived tables (simplify's patterns, the parse cache) as
    unregister does: tables built before it would not know the new primitive."""
    name = "late_gate_test"
    assert name not in actlang.format(actlang.simplify("x * exp(-2 * abs(x))", budget=30))
    with pytest.raises(actlang.ActlangError):
        actlang.parse(f"{name}(x)")  # the parse cache now holds the failure's input path
    define(
        Primitive(
            name=name, doc="x·exp(−b·|x|) (tests only)", source="tests", torch=None,
            numpy=lambda x, b: x / np.exp(b * np.abs(x)), definition="x * exp(-b * abs(x))",
            hyper=(Hyper("b", "float", 1.0, low=0.0, open_low=True),),
        )
    )
    try:
        assert actlang.format(actlang.simplify("x * exp(-2 * abs(x))", budget=30)) == f"{name}[b=2](x)"
        assert actlang.format(actlang.parse(f"{name}(x)")) == f"{name}(x)"
    finally:
        unregister(name)


def test_simplify_keeps_values_the_hyperparameter_rejects(composite):
    # a = -1 is outside a > 0: the form stays as written (x·exp(x²) is not this composite)
    assert NAME not in actlang.format(actlang.simplify("x * exp(x^2)", budget=30))


@pytest.mark.parametrize(("text", "expected"), SQUAREPLUS)
def test_simplify_recognises_registered_composites_at_other_hyperparameters(text, expected):
    """squareplus is defined as (x + sqrt(x^2 + b))/2; only values a float spells exactly are
    read as its hyperparameter (pi and a learned scalar stay as written)."""
    assert actlang.format(actlang.simplify(text, budget=30)) == expected


def test_unregistered_it_is_unknown_again():
    define(Primitive(name="throwaway_test", doc="", source="tests", torch=None, numpy=np.abs, definition="abs(x)"))
    assert actlang.format(actlang.parse("throwaway_test(x)")) == "throwaway_test(x)"  # now in the parse cache
    unregister("throwaway_test")
    assert lookup("throwaway_test") is None
    with pytest.raises(actlang.UnknownNameError):
        actlang.parse("throwaway_test(x)")
