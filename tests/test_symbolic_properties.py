"""actlang.properties: every answer True/False must be right; None is allowed (unknown)."""

from __future__ import annotations

import pytest

import actlang

# The true properties: monotone, bounded below, bounded above, zero at zero, odd, even, C¹.
TRUTH = {
    "x": (True, False, False, True, True, False, True),
    "relu(x)": (True, True, False, True, False, False, False),
    "abs(x)": (False, True, False, True, False, True, False),
    "tanh(x)": (True, True, True, True, True, False, True),
    "sigmoid(x)": (True, True, True, False, False, False, True),
    "softplus(x)": (True, True, False, False, False, False, True),
    "silu(x)": (False, True, False, True, False, False, True),
    "mish(x)": (False, True, False, True, False, False, True),
    "gelu(x)": (False, True, False, True, False, False, True),
    "elu(x)": (True, True, False, True, False, False, True),
    "selu(x)": (True, True, False, True, False, False, False),
    "leaky_relu(x)": (True, False, False, True, False, False, False),
    "hardtanh(x)": (True, True, True, True, True, False, False),
    "x^2": (False, True, False, True, False, True, True),
    "x^3": (True, False, False, True, True, False, True),
    "exp(x)": (True, True, False, False, False, False, True),
    "sin(x)": (False, True, True, True, True, False, True),
    "cos(x)": (False, True, True, False, False, True, True),
    "atan(x)": (True, True, True, True, True, False, True),
    "log_sigmoid(x)": (True, False, True, False, False, False, True),
    "softsign(x)": (True, True, True, True, True, False, True),
    "hardswish(x)": (False, True, False, True, False, False, False),
    "elish(x)": (False, True, False, True, False, False, True),
    "relu(x)^2": (True, True, False, True, False, False, True),
    "x*abs(x)": (True, False, False, True, True, False, True),
}
NAMES = ("monotone", "bounded_below", "bounded_above", "zero_at_zero", "odd", "even", "smooth")


@pytest.mark.parametrize("text", sorted(TRUTH))
def test_answers_are_never_wrong(text: str) -> None:
    found = actlang.properties(text).to_dict()
    for name, truth in zip(NAMES, TRUTH[text], strict=True):
        assert found[name] in (None, truth), (text, name, found[name])


def test_the_common_facts_are_decided() -> None:
    assert actlang.properties("tanh(x)").odd is True
    assert actlang.properties("abs(x)").even is True
    assert actlang.properties("relu(x)").smooth is False
    assert actlang.properties("elu(x)").smooth is True  # C¹ although piecewise (alpha = 1)
    assert actlang.properties("silu(x)").monotone is False
    assert actlang.properties("exp(x)").monotone is True
    assert actlang.properties("gelu(x)").zero_at_zero is True
    assert actlang.properties("sigmoid(x)").zero_at_zero is False
    assert actlang.properties("softplus(x)").bounded_above is False
    assert actlang.properties("sin(x)").bounded_below is True


def test_opaque_and_domain_limited_functions_stay_unknown() -> None:
    found = actlang.properties("sqrt(x)")
    assert found.smooth is None and found.odd is False
    assert actlang.properties("ash(x)").zero_at_zero is None
