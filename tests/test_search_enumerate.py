"""Search-space templates: counts, AQuaSurF's order and spelling, round trips, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import actlang
from actlang import search
from actlang.search.template import prefix

BENCH = "binary(unary(x),unary(x))"
LARGE_TEMPLATES = search.PRESETS["aquasurf-large"].templates


def aquasurf_expand(schema: str, unary, binary, nary) -> list[str]:
    """AQuaSurF's own rule, restated independently: product over (n-ary..., binary..., unary...)
    slots, each filled by replacing the first remaining placeholder of its kind."""
    kinds = [("n-ary", nary), ("binary", binary), ("unary", unary)]
    slots = [ops for word, ops in kinds for _ in range(schema.count(word))]
    out = []
    for combo in itertools.product(*slots):
        text, i = schema, 0
        for word, _ in kinds:
            for _ in range(schema.count(word)):
                text = text.replace(word, combo[i], 1)
                i += 1
        out.append(text)
    return out


def test_counts_match_the_paper():
    assert search.count(BENCH) == 7 * 27 * 27 == 5103
    assert search.count(preset="benchmark") == 5103
    assert search.count(preset="aquasurf-large") == 1_023_524
    assert [search.count(t) for t in LARGE_TEMPLATES] == [27**4, 27**3 * 7, 27**3 * 7, 27**3 * 7, 27**3 * 4]
    assert len(search.space(preset="aquasurf-large")) == 1_023_524


def test_operator_sets_are_registry_primitives_with_aquasurf_names():
    assert (len(search.AQUASURF_UNARY), len(search.AQUASURF_BINARY), len(search.AQUASURF_NARY)) == (27, 7, 4)
    for name in search.AQUASURF_UNARY + search.AQUASURF_BINARY + search.AQUASURF_NARY + search.AQUASURF_EXTRA_UNARY:
        primitive = actlang.lookup(name)
        assert primitive is not None and primitive.aquasurf == name


def test_benchmark_order_is_aquasurfs():
    names = list(search.enumerate(BENCH))
    expected = aquasurf_expand(BENCH, search.AQUASURF_UNARY, search.AQUASURF_BINARY, search.AQUASURF_NARY)
    assert names == expected
    assert names[0] == "add(zero(x),zero(x))" and names[-1] == "min(hard_sigmoid(x),hard_sigmoid(x))"


@pytest.mark.parametrize(
    "schema",
    ["n-ary(binary(unary(x),x),unary(unary(x)),x)", "unary(binary(unary(x),unary(x)))", "binary(n-ary(x),n-ary(x))"],
)
def test_mixed_kinds_follow_aquasurfs_substitution_order(schema):
    unary, binary, nary = ["relu", "tanh", "exp"], ["add", "max"], ["sum_n", "min_n"]
    assert list(search.enumerate(schema, unary, binary, nary)) == aquasurf_expand(schema, unary, binary, nary)


def test_every_benchmark_string_parses_and_prints_back():
    for name in search.enumerate(BENCH):
        expr = actlang.parse(name)
        assert actlang.format(expr, style="aquasurf") == name
        assert prefix(actlang.parse(actlang.format(expr))) == name  # through the infix spelling too


def test_a_sample_of_the_large_space_parses_and_prints_back():
    sample = []
    for template in LARGE_TEMPLATES:
        sample += itertools.islice(search.enumerate(template), 0, None, 397)
    sample += search.BASELINES
    assert len(sample) > 2500
    for name in sample:
        text = prefix(actlang.parse(name))
        assert actlang.format(actlang.parse(name), style="aquasurf") == text
        assert actlang.parse(text) == actlang.parse(name)


def test_infix_templates_and_bare_placeholders():
    names = list(search.enumerate("unary * sigmoid(x) + 2", unary=["relu", "silu"]))
    assert names == ["add(mul(relu(x),sigmoid(x)),2)", "add(mul(swish(x),sigmoid(x)),2)"]
    for name in names:
        assert prefix(actlang.parse(name)) == name


def test_parameterised_operators_keep_their_hyperparameters():
    names = list(search.enumerate("binary(unary(x),x)", unary=["leaky_relu[slope=0.2]", "gelu"], binary=["max"]))
    assert names == ["max(leaky_relu[slope=0.2](x),x)", "max(gelu(x),x)"]
    assert actlang.parse(names[0]).args[0].hyper == (("slope", 0.2),)


def test_templates_without_placeholders_are_one_string():
    assert list(search.enumerate("x * sigmoid(x)")) == ["mul(x,sigmoid(x))"]


@pytest.mark.parametrize(
    ("template", "kwargs", "error", "fragment"),
    [
        ("binary(unray(x),unary(x))", {}, actlang.UnknownNameError, "unray"),
        ("binary(unary(x))", {}, actlang.ArityError, "binary takes 2"),
        ("unary(x)", {"unary": ["add"]}, actlang.ArityError, "takes 2 arguments"),
        ("unary(x)", {"unary": ["nosuch"]}, actlang.UnknownNameError, "nosuch"),
        ("unary(x)", {"unary": []}, actlang.ParseError, "no unary operators"),
        ("unary(x)", {"unary": "relu"}, actlang.ParseError, "list of names"),
        ("binary(unary(x),", {}, actlang.ParseError, "unexpected"),
    ],
)
def test_bad_templates_raise_actlang_errors(template, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        list(search.enumerate(template, **kwargs))


def test_error_carets_point_at_the_users_text():
    with pytest.raises(actlang.UnknownNameError) as info:
        list(search.enumerate("binary(unary(x),sigmod(x))"))
    assert info.value.column == 17 and "binary(unary(x),sigmod(x))" in str(info.value)



def templates(depth: int) -> st.SearchStrategy[str]:
    """Random prefix templates in AQuaSurF's spelling (placeholders and fixed calls)."""
    leaf = st.just("x")
    if depth == 0:
        return leaf
    sub = templates(depth - 1)
    return st.one_of(
        leaf,
        sub.map(lambda a: f"unary({a})"),
        sub.map(lambda a: f"sigmoid({a})"),
        st.tuples(sub, sub).map(lambda ab: f"binary({ab[0]},{ab[1]})"),
        st.tuples(sub, sub).map(lambda ab: f"max({ab[0]},{ab[1]})"),
        st.tuples(sub, sub, sub).map(lambda abc: f"n-ary({abc[0]},{abc[1]},{abc[2]})"),
    )


@given(
    templates(3),
    st.lists(st.sampled_from(search.AQUASURF_UNARY), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(search.AQUASURF_BINARY), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(search.AQUASURF_NARY), min_size=1, max_size=2, unique=True),
)
def test_random_templates_enumerate_like_aquasurf_and_group_alike(template, unary, binary, nary):
    space = search.space(template, unary, binary, nary)
    assume(len(space) <= 2000)
    names = list(space)
    assert names == aquasurf_expand(template, unary, binary, nary)
    assert len(names) == search.count(template, unary, binary, nary)
    for name in names:
        assert actlang.format(actlang.parse(name), style="aquasurf") == name
    # The template path and the per-string path give the same classes.
    assert np.array_equal(search.deduplicate(space).labels, search.deduplicate(names).labels)
