"""The tree helpers every pass shares (actlang.ast): site names, "does this subtree use x", the
post-order walk, and the constant value of a subtree. Each is one function, so every pass agrees."""

from __future__ import annotations

import pytest
from hypothesis import given

import actlang
from actlang.ast import Call, Input, Num, Param, Sites, contains, uses_input, walk
from actlang.evaluate import constant_value, learned_names
from tests.calls import torch_calls
from tests.strategies import exprs

torch = pytest.importorskip("torch")

# Stateful primitives nested inside each other and beside each other: evaluation order decides.
NESTED = ["prelu(prelu(x)) + prelu(x) * beta", "prelu(x) * prelu(x)", "prelu(x + prelu(x)) - prelu(x) * prelu(x)"]


def test_sites_number_per_primitive_from_zero():
    sites = Sites()
    assert [sites.next(n) for n in ("prelu", "ash", "prelu", "prelu", "ash")] == [
        "prelu_0", "ash_0", "prelu_1", "prelu_2", "ash_1",
    ]  # fmt: skip
    assert Sites().next("prelu") == "prelu_0"  # a fresh numbering starts again


@pytest.mark.parametrize("text", NESTED)
def test_every_pass_names_the_sites_alike(text):
    """evaluate's parameter names, the compiled submodules, and the sympy symbols of the learned
    tensors all name the same sites the same way, in evaluation order."""
    expr = actlang.parse(text)
    names = learned_names(expr)
    module = actlang.compile(expr)
    compiled = [name for name, _ in module.named_parameters() if "." in name]
    assert names == compiled
    symbols = {str(s) for s in actlang.to_sympy(expr).free_symbols} - {"x", "beta"}
    assert symbols == set(names)
    assert len(names) == text.count("prelu(")


@pytest.mark.parametrize("text", NESTED)
def test_site_values_reach_the_site_they_name(text):
    """A value given for ``prelu_<i>.a`` changes the reference exactly as setting that compiled
    submodule's parameter changes the module (so both number the sites alike)."""
    expr = actlang.parse(text)
    xs = torch.linspace(-3, 3, 13, dtype=torch.float64)
    for i, name in enumerate(learned_names(expr)):
        module = actlang.compile(expr).double()
        with torch.no_grad():
            module.get_parameter(name).fill_(0.1 * (i + 2))
            got = module(xs).numpy()
        want = actlang.evaluate(expr, xs.numpy(), {name: 0.1 * (i + 2)})
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), name


@given(exprs(max_depth=4))
def test_walk_is_post_order(expr):
    """Every call comes after all of its arguments' nodes, and the root comes last."""
    nodes = list(walk(expr))
    assert nodes[-1] is expr
    position = {id(node): i for i, node in enumerate(nodes)}
    for node in nodes:
        if isinstance(node, Call):
            assert all(position[id(a)] < position[id(node)] for a in node.args)
    assert len(nodes) == _count(expr)


def _count(expr) -> int:
    return 1 + sum(_count(a) for a in expr.args) if isinstance(expr, Call) else 1


@pytest.mark.parametrize(
    ("text", "has_x", "has_param"),
    [("x", True, False), ("2", False, False), ("sin(pi)", False, False), ("beta", False, True),
     ("relu(beta) + 1", False, True), ("exp(beta * x)", True, True), ("zero(x)", True, False)],
)  # fmt: skip
def test_contains(text, has_x, has_param):
    expr = actlang.parse(text)
    assert uses_input(expr) is has_x
    assert contains(expr, Input) is has_x
    assert contains(expr, Param) is has_param
    assert contains(expr, (Input, Param)) is (has_x or has_param)


@pytest.mark.parametrize(("text", "value"), [("2 * 3", 6.0), ("sqrt(4) + pi - pi", 2.0), ("exp(0)", 1.0)])
def test_constant_value(text, value):
    assert constant_value(actlang.parse(text)) == pytest.approx(value, rel=1e-15)
    assert constant_value(Num(value)) == value


def test_constants_fold_into_the_generated_code():
    """A subtree without x is one literal in the compiled code, worth the reference's value."""
    module = actlang.compile("x * (sqrt(2) + 1)")
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    calls = torch_calls(module, x)
    assert calls.count("mul") == 1 and "sqrt" not in calls and "add" not in calls  # one product with a number
    assert torch.equal(module(x), x * constant_value(actlang.parse("sqrt(2) + 1")))
