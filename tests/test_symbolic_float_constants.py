"""Constant subtrees are reasoned about as actlang computes them, where that decides a domain.

``0.6/0.2`` is 3 in decimals but 2.9999999999999996 in float64, which ``actlang.evaluate`` and
compiled modules fold once: ``x^(0.6/0.2)`` is NaN for every x < 0. A proof about the decimals'
function (``x^3``) was a "proved" about a function actlang does not compute.
"""

from __future__ import annotations

import numpy as np
import pytest

import actlang

EXPONENTS = ["0.6/0.2", "0.3/0.1", "0.9/0.3", "1.2/0.4", "0.7/0.1", "4.2/1.4", "2/2", "1.5*2", "0.1*30",
             "(0.1+0.2)*10", "1+1e-17", "3-1e-16"]


@pytest.mark.parametrize("exponent", EXPONENTS)
def test_a_power_of_a_constant_quotient_is_judged_as_evaluated(exponent) -> None:
    """Against the integer power the decimals spell: "different" exactly when evaluate finds a
    NaN at negative x on one side only, and never "different" when evaluate agrees everywhere."""
    value = float(actlang.evaluate(f"0*x + {exponent}", np.array([0.0]))[0])
    a, b = f"x^({exponent})", f"x^{round(value)}"
    xs = np.array([-2.5, -1.0, -0.5, 0.5, 2.0])
    va, vb = actlang.evaluate(a, xs), actlang.evaluate(b, xs)
    result = actlang.equivalent(a, b)
    if np.isnan(va).any() != np.isnan(vb).any():
        assert result.verdict == "different", (a, b, result)
        assert result.counterexample < 0 and "non-integer power" in result.note
        assert repr(value) in result.note  # the exponent in full, not rounded to "3"
    else:
        np.testing.assert_allclose(va, vb, rtol=1e-15)
        assert result.verdict != "different", (a, b, result)


@pytest.mark.parametrize("text", ["x^(0.6/0.2)", "x^(1+1e-17)", "(x+1)^(0.3/0.1) - x"])
def test_simplify_keeps_the_computed_domain(text) -> None:
    simplified = actlang.simplify(text)
    xs = np.linspace(-3, 3, 61)
    np.testing.assert_allclose(actlang.evaluate(simplified, xs), actlang.evaluate(text, xs), rtol=1e-12,
                               equal_nan=True)


@pytest.mark.parametrize(("a", "b", "verdict"), [
    ("x*(0.1+0.2)", "x*0.3", "proved"),  # rounding only: the decimals' exact value is kept
    ("sin(x + pi/2)", "cos(x)", "proved"),
    ("x/(1 + 1e-17 - 1)", "x/0", "not different"),  # 1 + 1e-17 - 1 is 0 as computed (poles: numeric)
    ("x/(0.3 - 0.1 - 0.2)", "x/0", "different"),  # and 0.3 - 0.1 - 0.2 is -2.8e-17, not 0
])
def test_constants_keep_exactness_unless_sign_or_integrality_changes(a, b, verdict) -> None:
    found = actlang.equivalent(a, b).verdict
    assert found != "different" if verdict == "not different" else found == verdict


@pytest.mark.parametrize(("a", "b"), [
    ("heaviside(x - 0.3)", "select(x - 0.3, 1, 0)"),
    ("sign(x - 0.7)", "select(x - 0.7, 1, -1)"),
    ("heaviside(1.1 - x)", "select(1.1 - x, 1, 0)"),
])
def test_a_step_at_a_decimal_point_is_found_there(a, b) -> None:
    """The probe's float 0.3 shows the difference; its exact binary value does not (x − 0.3 is
    not 0 there), the decimal 3/10 does: "different", not "numeric"."""
    result = actlang.equivalent(a, b)
    assert result.verdict == "different"
    x = result.counterexample
    assert actlang.evaluate(a, np.array([x]))[0] != actlang.evaluate(b, np.array([x]))[0]
    assert "exactly" in result.note
