"""Signed zeros are kept apart by every key (issue 12): ``0.0 == -0.0`` and they hash alike, so a
tree, a cache or a table of shared subexpressions keyed by plain floats hands one function the
other's result (``1 / hardtanh[min=-0.0](x)`` is −inf below the kink, with ``min=0.0`` +inf)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import actlang
from actlang.compiler import chain
from actlang.compiler import fused as fused_module
from actlang.exact import exact, exact_cache

ROOT = Path(__file__).resolve().parents[1] / "actlang"

# The same text with a hyperparameter +0.0 and -0.0, and a point where the sign shows:
# atan(1/u) is +pi/2 at u = +0 and -pi/2 at u = -0.
SIGNED = [
    ("hardtanh[min={z}, max=1](x)", -1.0),
    ("leaky_relu[slope={z}](x)", -1.0),
    ("elu[alpha={z}](x)", -1.0),
    ("heaviside[zero={z}](x)", 0.0),
    ("hardtanh[min=-1, max={z}](x)", 2.0),
]


def test_exact_keys_tell_signed_zeros_and_types_apart():
    assert exact(0.0) != exact(-0.0)
    assert exact((("slope", 0.0),)) != exact((("slope", -0.0),))
    assert exact(1) != exact(1.0) and exact(True) != exact(1)
    assert exact(float("nan")) == exact(float("nan"))  # every NaN is the same key (a cache hit)
    assert exact((1.5, "a", (2, -0.0))) == exact((1.5, "a", (2, -0.0)))


@pytest.mark.parametrize("template, _point", SIGNED)
def test_trees_with_signed_zero_hyperparameters_differ(template, _point):
    plus, minus = actlang.parse(template.format(z="0.0")), actlang.parse(template.format(z="-0.0"))
    assert plus != minus and minus == actlang.parse(template.format(z="-0.0"))
    assert len({plus: 1, minus: 2}) == 2
    assert actlang.parse(str(minus)) == minus and actlang.parse(str(plus)) == plus


def test_learned_scalars_with_signed_zero_inits_differ():
    a, b = actlang.parse("x / p where p = 0.0"), actlang.parse("x / p where p = -0.0")
    assert a != b and len({a, b}) == 2


@pytest.mark.parametrize("template, point", SIGNED)
@pytest.mark.parametrize("memory_efficient", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shared_subexpressions_keep_signed_zeros_apart(template, point, memory_efficient, dtype):
    # Both signs in one expression: merged into one statement, the difference would be 0, not ±pi.
    plus, minus = template.format(z="0.0"), template.format(z="-0.0")
    text = f"atan(reciprocal({plus})) - atan(reciprocal({minus}))"
    module = actlang.compile(text, memory_efficient=memory_efficient).to(dtype)
    x = torch.tensor([point, 0.5], dtype=dtype, requires_grad=True)
    y = module(x)
    y.sum().backward()
    want = actlang.evaluate(text, x.detach().double().numpy())
    assert abs(want[0]) == pytest.approx(math.pi)
    np.testing.assert_allclose(y.detach().double().numpy(), want, rtol=1e-6)
    plain = actlang.compile(text, memory_efficient=False).to(dtype)
    xp = x.detach().clone().requires_grad_()
    plain(xp).sum().backward()
    torch.testing.assert_close(x.grad, xp.grad, equal_nan=True)  # autograd: inf·0 at the pole, both paths


@pytest.mark.parametrize("template, point", SIGNED)
def test_modules_compiled_in_either_order_keep_their_own_sign(template, point):
    texts = [f"atan(reciprocal({template.format(z=z)}))" for z in ("0.0", "-0.0")]
    for order in (texts, texts[::-1]):
        for text in order:
            y = actlang.compile(text).double()(torch.tensor([point], dtype=torch.float64))
            assert y.item() == pytest.approx(actlang.evaluate(text, [point])[0])


def _echo(expr, wrt):
    return expr  # a "derivative" that returns its input: what the cache gives back shows


def test_symbolic_derivative_cache_keeps_signed_zeros_apart():
    for z in ("0.0", "-0.0", "0.0"):
        expr = actlang.parse(f"leaky_relu[slope={z}](x) * x")
        found = fused_module._symbolic_one(_echo, expr, "x")
        slopes = [dict(n.hyper)["slope"] for n in actlang.ast.walk(found) if getattr(n, "name", "") == "leaky_relu"]
        assert [math.copysign(1.0, s) for s in slopes] == [math.copysign(1.0, float(z))]


def test_local_derivative_cache_keeps_signed_zeros_apart():
    for slope in (0.0, -0.0, 0.0):
        form = chain._local_form(_echo, "leaky_relu", (("slope", slope),))
        assert math.copysign(1.0, form.hp["slope"]) == math.copysign(1.0, slope)


def test_hyper_keyed_caches_hold_one_entry_per_sign():
    from actlang.evaluate import expand_definition
    from actlang.registry import lookup
    from actlang.search.tf_kernels import kernel
    from actlang.symbolic.domain import _templates
    from actlang.symbolic.functions import native_form
    from actlang.symbolic.lowering import derivative_form

    calls = [
        (kernel, lambda z: ("leaky_relu", (("slope", z),))),
        (expand_definition, lambda z: (lookup("squareplus"), (("b", z),))),
        (derivative_form, lambda z: ("elu", (("alpha", z),), 1)),
        (native_form, lambda z: ("leaky_relu", (("slope", z),))),
        (_templates, lambda z: ("hardtanh", (("max", 1.0), ("min", z)), 1)),
    ]
    for function, args in calls:
        function.cache_clear()
        function(*args(0.0))
        function(*args(-0.0))
        function(*args(-0.0))
        assert function.cache_info().currsize == 2, function.__name__
    leaky = kernel("leaky_relu", (("slope", -0.0),))(np.array([-1.0], dtype=np.float32))
    assert math.copysign(1.0, float(leaky[0])) == 1.0  # -0.0 · -1 = +0.0
    assert str(expand_definition(lookup("squareplus"), (("b", -0.0),))).count("-0") == 1


def test_exact_cache_passes_the_arguments_and_keyword_arguments_through():
    seen = []

    @exact_cache(maxsize=2)
    def f(a, b=0.0):
        seen.append((a, b))
        return math.copysign(1.0, b)

    assert [f(1, b=0.0), f(1, b=-0.0), f(1, b=0.0)] == [1.0, -1.0, 1.0]
    assert len(seen) == 2 and f.cache_info().hits == 1


# Every functools cache in actlang, with why plain keys are safe for it; a new cache must be an
# exact_cache or be listed here with its reason.
PLAIN_KEYS = {
    "research/mix.py:_mix_class": "an int",
    "cpab/tessellation.py:_basis": "an int and a bool",
    "symbolic/functions.py:dummies": "an int",
    "symbolic/chain_rule.py:_spelled": "a generated class (one per primitive and exact hyperparameters)",
    "symbolic/chain_rule.py:_spelled_derivative": "a generated class and an int",
    "symbolic/lowering.py:_function_class": "hyper plus zero_signs(hyper)",
    "symbolic/raising.py:_native_names": "no arguments",
    "symbolic/equivalence.py:_cached": "canonical texts and trees (exact equality), a symmetry, a budget",
    "symbolic/symbols.py:param_symbol": "a name",
    "symbolic/symbols.py:learned_symbol": "names",
    "symbolic/folding.py:_patterns": "no arguments",
    "symbolic/folding.py:_composite_patterns": "no arguments",
    "symbolic/budget.py:warm_up": "no arguments",
    "search/tasks.py:_load_named": "a name",
    "parser.py:_lark": "no arguments",
    "parser.py:_driver": "no arguments",
    "parser.py:_operators": "no arguments",
    "printer.py:_operators": "no arguments",
    "parser.py:_parse_cached": "text",
    "evaluate.py:reference": "a primitive",
    "compiler/names.py:_module_attributes": "no arguments",
    "compiler/names.py:_site_pattern": "no arguments",
    "compiler/cost.py:statement_cost": "a line of code",
    "compiler/inductor_cost.py:_statement": "a line of code (its text spells the sign of a zero)",
    "compiler/fused.py:_symbolic_one": "a tree (exact equality) and a name",
    "compiler/program.py:_dispatch": "no arguments",
    "compiler/program.py:program": "a tree (exact equality: signs of zero compare), a bool, an int",
    "compiler/buffers.py:_accepts_out": "a path and an int",
    "exact.py:keyed": "the exact key itself (exact_cache)",
    "kernels.py:_find_compiler": "two strings ($CXX and $PATH)",
    "kernel_cache.py:_cpu_features": "no arguments",
}


def _decorator_names(function: ast.FunctionDef) -> set[str]:
    names = set()
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        names.add(ast.unparse(target))
    return names


def test_every_cache_is_exact_or_listed_with_its_reason():
    plain = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = _decorator_names(node)
                if names & {"functools.cache", "functools.lru_cache", "cache", "lru_cache"}:
                    plain.add(f"{path.relative_to(ROOT).as_posix()}:{node.name}")
    assert plain <= set(PLAIN_KEYS), sorted(plain - set(PLAIN_KEYS))


def _signed_zero_texts() -> list[str]:
    """Every unary stateless primitive, and again with each float hyperparameter at 0.0, -0.0 and
    -0.5 where its range allows (a negative slope or scale flips the sign of slope·0)."""
    from actlang.registry import REQUIRED

    texts = []
    for primitive in actlang.primitives():
        if primitive.arity != 1 or primitive.stateful or primitive.stochastic or primitive.module:
            continue
        if any(h.default is REQUIRED for h in primitive.hyper):
            continue
        texts.append(f"{primitive.name}(x)")
        for spec in (h for h in primitive.hyper if h.kind == "float"):
            for value in ("0.0", "-0.0", "-0.5"):
                text = f"{primitive.name}[{spec.name}={value}](x)"
                try:
                    actlang.parse(text)
                except actlang.ActlangError:
                    continue  # out of its range
                texts.append(text)
    return texts


@pytest.mark.parametrize("text", _signed_zero_texts())
def test_compiled_and_reference_agree_on_the_sign_of_zero(text):
    # The sign shows through 1/f: +inf or -inf at f = ±0.
    xs = [-0.0, 0.0, -1.0, 1.0]
    for body in (text, f"reciprocal({text})"):
        want = actlang.evaluate(body, np.array(xs))
        for memory_efficient in (True, False):
            module = actlang.compile(body, memory_efficient=memory_efficient)
            for dtype in (torch.float32, torch.float64):
                got = module.to(dtype)(torch.tensor(xs, dtype=dtype)).double().numpy()
                for x, a, b in zip(xs, got, want, strict=True):
                    if np.isnan(b):
                        assert np.isnan(a), (body, x)
                    elif a == 0 or b == 0 or not np.isfinite(b):
                        assert a == b and np.signbit(a) == np.signbit(b), (body, x, a, b)
                    else:
                        assert a == pytest.approx(b, rel=1e-6), (body, x)
