"""The parser and the canonical printer: golden table, round trips, AQuaSurF strings."""

from __future__ import annotations

import pytest
from hypothesis import given

import actlang
from actlang import Call, Constant, Input, Num, Param, call
from actlang.lalr import FALLBACK
from actlang.parser import MAX_DEPTH, MAX_LENGTH, _driver, _lark, _parse
from tests.strategies import aquasurf_strings, exprs

x = Input()


def neg(a):
    return Call("neg", (a,))


def binary(name, a, b):
    return Call(name, (a, b))


a, b, c = Param("a"), Param("b"), Param("c")

# (text, tree, canonical text)
GOLDEN = [
    # precedence and associativity (docs/language.md §2)
    ("-x^2", neg(binary("pow", x, Num(2))), "-x^2"),
    ("2^-x", binary("pow", Num(2), neg(x)), "2^-x"),
    ("a-b-c", binary("sub", binary("sub", a, b), c), "a - b - c"),
    ("a-(b-c)", binary("sub", a, binary("sub", b, c)), "a - (b - c)"),
    ("a/b/c", binary("div", binary("div", a, b), c), "a / b / c"),
    ("a/(b/c)", binary("div", a, binary("div", b, c)), "a / (b / c)"),
    ("a^b^c", binary("pow", a, binary("pow", b, c)), "a^b^c"),
    ("(a^b)^c", binary("pow", binary("pow", a, b), c), "(a^b)^c"),
    ("x**2", binary("pow", x, Num(2)), "x^2"),
    ("x ** -2", binary("pow", x, neg(Num(2))), "x^-2"),
    ("a**b**c", binary("pow", a, binary("pow", b, c)), "a^b^c"),
    ("a+b*c", binary("add", a, binary("mul", b, c)), "a + b * c"),
    ("(a+b)*c", binary("mul", binary("add", a, b), c), "(a + b) * c"),
    ("a*b+c", binary("add", binary("mul", a, b), c), "a * b + c"),
    ("a-b+c", binary("add", binary("sub", a, b), c), "a - b + c"),
    ("a*b/c", binary("div", binary("mul", a, b), c), "a * b / c"),
    ("a/b*c", binary("mul", binary("div", a, b), c), "a / b * c"),
    ("-a*b", binary("mul", neg(a), b), "-a * b"),
    ("-(a*b)", neg(binary("mul", a, b)), "-(a * b)"),
    ("a*-b", binary("mul", a, neg(b)), "a * -b"),
    ("a - -b", binary("sub", a, neg(b)), "a - -b"),
    ("(-x)^2", binary("pow", neg(x), Num(2)), "(-x)^2"),
    ("x^-y^z", binary("pow", x, neg(binary("pow", Param("y"), Param("z")))), "x^-y^z"),
    ("2^x^2", binary("pow", Num(2), binary("pow", x, Num(2))), "2^x^2"),
    # unary chains
    ("--x", neg(neg(x)), "--x"),
    ("+x", x, "x"),
    ("+-+x", neg(x), "-x"),
    ("- - -x", neg(neg(neg(x))), "---x"),
    ("-2", neg(Num(2)), "-2"),
    ("-(-(x))", neg(neg(x)), "--x"),
    # numbers
    (".5", Num(0.5), "0.5"),
    ("5.", Num(5), "5"),
    ("1e-3", Num(0.001), "0.001"),
    ("2.5E+2", Num(250), "250"),
    ("1e-05*x", binary("mul", Num(1e-5), x), "1e-05 * x"),
    ("1e20", Num(1e20), "1e+20"),
    # names
    ("x", x, "x"),
    ("pi", Constant("pi"), "pi"),
    ("e^x", binary("pow", Constant("e"), x), "e^x"),
    ("beta", Param("beta"), "beta"),
    ("trueish*x", binary("mul", Param("trueish"), x), "trueish * x"),
    ("relu", call("relu", x), "relu(x)"),
    ("relu + elu", binary("add", call("relu", x), call("elu", x)), "relu(x) + elu(x)"),
    ("softplus[beta=2]", call("softplus", x, beta=2), "softplus[beta=2](x)"),
    ("max_n(relu, elu, x)", call("max_n", call("relu", x), call("elu", x), x), "max_n(relu(x), elu(x), x)"),
    # aliases resolve to canonical names
    ("swish(x)", call("silu", x), "silu(x)"),
    ("negative(x)", neg(x), "-x"),
    ("arctan(x) + arcsinh(x)", binary("add", call("atan", x), call("asinh", x)), "atan(x) + asinh(x)"),
    ("leakyrelu(x)", call("leaky_relu", x), "leaky_relu(x)"),
    ("logsigmoid(x)", call("log_sigmoid", x), "log_sigmoid(x)"),
    # hyperparameters: brackets, keywords, defaults omitted, sorted keys
    ("softplus[beta=2](x)", call("softplus", x, beta=2), "softplus[beta=2](x)"),
    ("softplus(x, beta=2)", call("softplus", x, beta=2), "softplus[beta=2](x)"),
    ("softplus[beta=+2.0](x)", call("softplus", x, beta=2), "softplus[beta=2](x)"),
    ("softplus[beta=1](x)", call("softplus", x), "softplus(x)"),
    ("softplus[](x)", call("softplus", x), "softplus(x)"),
    ("hardtanh[max=2, min=-2](x)", call("hardtanh", x, min=-2, max=2), "hardtanh[max=2, min=-2](x)"),
    ("hardtanh[max=2](x, min=-2)", call("hardtanh", x, min=-2, max=2), "hardtanh[max=2, min=-2](x)"),
    ("leaky_relu[slope=-0.5](x)", call("leaky_relu", x, slope=-0.5), "leaky_relu[slope=-0.5](x)"),
    ("gelu[approximate=tanh](x)", call("gelu", x, approximate="tanh"), "gelu[approximate=tanh](x)"),
    ("gelu(x, approximate=none)", call("gelu", x), "gelu(x)"),
    # where clauses
    ("x*sigmoid(beta*x) where beta = 1.5",
     binary("mul", x, call("sigmoid", binary("mul", Param("beta", 1.5), x))),
     "x * sigmoid(beta * x) where beta = 1.5"),
    ("a*x + b where b = -0.5, a = 2",
     binary("add", binary("mul", Param("a", 2), x), Param("b", -0.5)),
     "a * x + b where a = 2, b = -0.5"),
    ("beta*x where beta = 1", binary("mul", Param("beta"), x), "beta * x"),
    ("beta*x where beta = +3", binary("mul", Param("beta", 3), x), "beta * x where beta = 3"),
    # AQuaSurF prefix strings
    ("add(relu(x),swish(x))", binary("add", call("relu", x), call("silu", x)), "relu(x) + silu(x)"),
    ("min(square(x),selu(x))", binary("min", call("square", x), call("selu", x)), "min(square(x), selu(x))"),
    ("square(erfc(softplus(x)))", call("square", call("erfc", call("softplus", x))), "square(erfc(softplus(x)))"),
    ("prod_n(sigmoid(x),negative(x),hard_sigmoid(x))",
     call("prod_n", call("sigmoid", x), neg(x), call("hard_sigmoid", x)),
     "prod_n(sigmoid(x), -x, hard_sigmoid(x))"),
    # whitespace is free
    (" \t x\n*\r\n2 ", binary("mul", x, Num(2)), "x * 2"),
]


@pytest.mark.parametrize(("text", "tree", "canonical"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden(text: str, tree, canonical: str) -> None:
    parsed = actlang.parse(text)
    assert parsed == tree
    assert actlang.format(parsed) == canonical
    assert str(parsed) == canonical
    assert actlang.parse(canonical) == tree


def test_parameter_inits_survive_format() -> None:
    expr = actlang.parse("a*x + b where b = -0.5, a = 2")
    assert actlang.ast.params(expr) == {"a": 2.0, "b": -0.5}


def test_spans_point_at_source() -> None:
    expr = actlang.parse("erfc(softplus(x))^2")
    assert (expr.span.line, expr.span.column) == (1, 18)  # the '^'
    inner = expr.args[0].args[0]
    assert (inner.span.line, inner.span.column, inner.span.length) == (1, 6, 8)
    assert actlang.parse("x +\n  relu(x)").args[1].span.line == 2


def test_spans_do_not_affect_equality() -> None:
    assert actlang.parse("relu(x)+x") == actlang.parse("  relu( x ) +  x")
    assert hash(actlang.parse("relu(x)+x")) == hash(actlang.parse("relu (x) + x"))


def test_parse_is_cached_and_uncached_parse_agrees() -> None:
    text = "x * sigmoid(x) + 0.5"
    assert actlang.parse(text) is actlang.parse(text)
    assert _parse(text, MAX_LENGTH, MAX_DEPTH) == actlang.parse(text)


def test_custom_bounds_bypass_the_cache() -> None:
    with pytest.raises(actlang.LimitError, match="limit is 5"):
        actlang.parse("relu(x)", max_length=5)
    with pytest.raises(actlang.LimitError, match="limit of 2"):
        actlang.parse("relu(relu(x))", max_depth=2)
    assert actlang.parse("relu(x)", max_depth=2) == call("relu", x)


@given(exprs(max_depth=5))
def test_round_trip_generated_trees(expr) -> None:
    text = actlang.format(expr)
    assert actlang.parse(text) == expr
    assert actlang.format(actlang.parse(text)) == text


@given(exprs(max_depth=4))
def test_fast_driver_matches_lark(expr) -> None:
    text = actlang.format(expr)
    assert _driver().parse(text) == _lark().parse(text)


@given(aquasurf_strings(max_depth=5))
def test_aquasurf_style_reprints_original(text: str) -> None:
    assert actlang.format(actlang.parse(text), style="aquasurf") == text


# The AQuaSurF benchmark space binary(unary(x),unary(x)), RESEARCH §3: 27 unary, 7 binary names.
AQUASURF_UNARY = (
    "zero one identity negative abs reciprocal square exp erf erfc sinh cosh tanh expm1 sigmoid "
    "log_sigmoid arcsinh arctan bessel_i0e bessel_i1e relu elu selu swish softplus softsign hard_sigmoid"
).split()
AQUASURF_BINARY = "add sub mul div pow max min".split()


def test_aquasurf_benchmark_space_parses_and_round_trips() -> None:
    assert len(AQUASURF_UNARY) == 27 and len(AQUASURF_BINARY) == 7
    space = [f"{op}({u}(x),{v}(x))" for op in AQUASURF_BINARY for u in AQUASURF_UNARY for v in AQUASURF_UNARY]
    assert len(space) == 5103
    canonical = set()
    for text in space:
        expr = _parse(text, MAX_LENGTH, MAX_DEPTH)  # uncached: every string really parsed
        assert isinstance(expr, Call) and len(expr.args) == 2, text
        assert actlang.format(expr, style="aquasurf") == text
        printed = actlang.format(expr)
        assert _parse(printed, MAX_LENGTH, MAX_DEPTH) == expr, text
        canonical.add(printed)
    assert len(canonical) == 5103  # distinct strings stay distinct trees


def test_aquasurf_style_refuses_what_aquasurf_cannot_spell() -> None:
    for text in ("x + 1", "softplus[beta=2](x)", "relu6(x)", "beta * x", "pi"):
        with pytest.raises(actlang.UnsupportedError, match="AQuaSurF"):
            actlang.format(text, style="aquasurf")


def test_aquasurf_spells_operators_by_name() -> None:
    assert actlang.format("relu(x) + swish(x)", style="aquasurf") == "add(relu(x),swish(x))"
    assert actlang.format("-x^x", style="aquasurf") == "negative(pow(x,x))"
    assert actlang.format("-(x*x)", style="aquasurf") == "negative(mul(x,x))"


def test_unknown_style_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown style"):
        actlang.format("x", style="latex")  # type: ignore[arg-type]


def test_driver_defers_every_invalid_input_to_lark() -> None:
    for text in ("relu(x", "x $ 2", "x where", "2 3", "x where beta", "relu(x))", "[x]"):
        assert _driver().parse(text) is FALLBACK


def test_keywords_are_names_only_where_lark_would_read_them_so() -> None:
    # 'true' in value position is the boolean; elsewhere the contextual lexer reads a name.
    assert _driver().parse("trueish") == Param("trueish")
    with pytest.raises(actlang.ParseError, match="keyword"):
        actlang.parse("true")
