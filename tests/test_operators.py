"""Operators come from the registry: each operator's definition (its ``Operator``) gives the tokens
the parser reads, the text and precedence the printer writes, and the torch function the
buffer-reuse pass calls; the compiler reads ``number_operands`` and ``folds`` there too."""

from __future__ import annotations

import itertools

import pytest

import actlang
from actlang.ast import Call, Input, Param
from actlang.compiler.buffers import _out_form
from actlang.compiler.codegen import Step
from actlang.registry import primitives

torch = pytest.importorskip("torch")

OPERATORS = [p for p in primitives() if p.operator is not None]
LEAVES = [Input(), Param("a"), Param("b")]


def test_the_arithmetic_operators_are_registry_operators():
    spelled = {(token, len(p.operator.operands)): p.name for p in OPERATORS for token in p.operator.tokens}
    binary = {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow", "**": "pow"}
    assert spelled == {(token, 2): name for token, name in binary.items()} | {("-", 1): "neg"}


@pytest.mark.parametrize("primitive", OPERATORS, ids=lambda p: p.name)
def test_every_token_parses_as_its_operator(primitive):
    operands = ["a", "b"][: len(primitive.operator.operands)]
    for token in primitive.operator.tokens:
        text = f"{token}a" if len(operands) == 1 else f"a {token} b"
        assert actlang.parse(text) == Call(primitive.name, tuple(Param(n) for n in operands))


@pytest.mark.parametrize("primitive", OPERATORS, ids=lambda p: p.name)
def test_the_printer_writes_the_registry_text(primitive):
    args = tuple(LEAVES[1 : 1 + len(primitive.operator.operands)])
    assert actlang.format(Call(primitive.name, args)) == primitive.operator.text.format(*(a.name for a in args))


def _nestings():
    """Every operator with every operator (or a leaf) in each operand slot."""
    for outer, inner in itertools.product(OPERATORS, OPERATORS):
        inner_call = Call(inner.name, tuple(LEAVES[: len(inner.operator.operands)]))
        for slot in range(len(outer.operator.operands)):
            args = [LEAVES[(i + 1) % 3] for i in range(len(outer.operator.operands))]
            args[slot] = inner_call
            yield Call(outer.name, tuple(args))


@pytest.mark.parametrize("expr", list(_nestings()), ids=str)
def test_precedence_agrees_with_the_grammar(expr):
    """The printer's parentheses (from the registry's levels) read back as the same tree, and it
    writes none that the grammar does not need."""
    text = actlang.format(expr)
    assert actlang.parse(text) == expr
    if "(" in text:  # each pair of parentheses is needed: without it the text means another tree
        opened = text.index("(")
        closed = text.index(")", opened)
        bare = text[:opened] + text[opened + 1 : closed] + text[closed + 1 :]
        try:
            assert actlang.parse(bare) != expr
        except actlang.ActlangError:
            pass


@pytest.mark.parametrize("primitive", [p for p in OPERATORS if p.operator.function], ids=lambda p: p.name)
def test_the_buffer_pass_calls_each_operators_function(primitive):
    """A Python-arithmetic operator writes into a dead buffer through the torch function its
    definition names, bitwise as the allocating code computes it."""
    names = ["t0", "t1"][: len(primitive.operator.operands)]
    code = primitive.torch.format(*names)
    form = _out_form(Step.of(primitive, tuple((n, True) for n in names), code, True))
    assert form == f"{primitive.operator.function}({', '.join(names)}, out={{out}})"
    scope = {"torch": torch, "t0": torch.linspace(-3, 3, 13), "t1": torch.linspace(0.5, 2, 13)}
    want = eval(code, scope)
    scope["t2"] = torch.empty(13)
    got = eval(form.format(out="t2"), scope)
    assert got.data_ptr() == scope["t2"].data_ptr() and torch.equal(got, want)


def test_templates_that_take_numbers_are_the_declared_ones():
    declared = {p.name for p in primitives() if p.number_operands}
    assert declared == {"add", "sub", "mul", "div", "neg", "pow", "sum_n", "prod_n"}
    # a constant operand of a declared template stays a Python number; of another, a 0-d tensor
    assert "torch.tensor(" not in actlang.compile("x + 2").code
    assert "torch.tensor(2.0" in actlang.compile("max(x, 2)").code


def test_variadic_reductions_fold_their_binary_primitive():
    folds = {p.name: p.folds for p in primitives() if p.folds is not None}
    assert folds == {"sum_n": "add", "prod_n": "mul", "max_n": "max", "min_n": "min"}
    code = actlang.compile("max_n(x, sin(x), cos(x), tanh(x))").code
    assert code.count("torch.maximum(") == 3
