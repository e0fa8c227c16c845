"""Deduplication: AQuaSurF's outputs rule, symmetries, the numeric rule, the shared grouping."""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

import numpy as np
import pytest

import actlang
from actlang import search
from actlang.search.exprs import evaluate_many
from actlang.search.space import parse_names

BENCH = "binary(unary(x),unary(x))"
CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "aquasurf_benchspace_classes.csv"
POINTS = search.aquasurf_points()


@functools.cache
def bench(by: str = "outputs", symmetry: str = "none") -> search.Deduplication:
    return search.deduplicate(search.space(BENCH), by=by, symmetry=symmetry)


@functools.cache
def bench_rows(points: bytes = POINTS.tobytes()) -> dict[str, np.ndarray]:
    names = list(search.enumerate(BENCH))
    rows = evaluate_many(parse_names(names), np.frombuffer(points, np.float32))
    return dict(zip(names, rows, strict=True))


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.tobytes() == b.tobytes()


def test_points_are_aquasurfs():
    np.random.seed(0)
    expected = np.clip(np.random.normal(size=1000), -5, 5)
    assert POINTS.dtype == np.float32 and np.array_equal(POINTS, expected.astype(np.float32))


def test_benchmark_outputs_count_is_the_papers():
    result = bench()
    assert 2913 - 10 <= len(result) <= 2913 + 10
    assert result.total == 5103 and sum(len(c) for c in result) == 5103
    assert result.labels.shape == (5103,) and result.labels.max() == len(result) - 1


def test_outputs_classes_are_exactly_bit_identical_outputs():
    rows = bench_rows()
    seen = set()
    for group in bench():
        first = rows[group.members[0]]
        assert all(same_bits(rows[m], first) for m in group.members)
        assert group.representative == max(group.members)  # AQuaSurF's MAX(fn_name)
        seen.add(first.tobytes())
    assert len(seen) == len(bench())  # different classes have different outputs


def test_string_path_and_template_path_agree():
    by_names = search.deduplicate(list(search.enumerate(BENCH)))
    assert np.array_equal(by_names.labels, bench().labels)


def test_plus_and_minus_zero_stay_apart_as_in_aquasurf():
    result = search.deduplicate(["zero(x)", "mul(zero(x),negative(x))", "mul(zero(x),zero(x))"])
    assert len(result) == 2  # 0·(−x) is −0 where x > 0


def test_nan_outputs_count_as_equal():
    result = search.deduplicate(["div(zero(x),zero(x))", "sub(div(one(x),zero(x)),div(one(x),zero(x)))"])
    assert len(result) == 1


def read_reference() -> set[frozenset[str]]:
    with CSV.open() as stream:
        return {frozenset(row["equivalent_names"].split()) for row in csv.DictReader(stream)}


@pytest.mark.skipif(not CSV.exists(), reason="shared AQuaSurF grouping not present")
def test_agrees_with_the_tensorflow_grouping_where_floats_do_not_decide():
    ours = {frozenset(c.members) for c in bench()}
    reference = read_reference()
    assert sum(len(c) for c in reference) == 5103
    # TensorFlow's reciprocal is a hardware estimate refined by one Newton step, not 1/x rounded:
    # it splits reciprocal(x) from 1/x. Every other class must be identical.
    decided_by_floats = re.compile(r"reciprocal|div\(one\(x\),(identity|negative)\(x\)\)")
    for group in ours ^ reference:
        assert all(decided_by_floats.search(name) for name in group), sorted(group)
    assert len(ours ^ reference) <= 8


@pytest.mark.parametrize("symmetry", ["negation", "sign"])
def test_symmetry_folds_only_true_sign_flips(symmetry):
    rows = bench_rows()
    reflected = bench_rows((-POINTS).tobytes())
    transforms = {
        "f(x)": lambda r: rows[r],
        "-f(x)": lambda r: -rows[r],
        "f(-x)": lambda r: reflected[r],
        "-f(-x)": lambda r: -reflected[r],
    }
    allowed = {"f(x)", "-f(x)"} if symmetry == "negation" else set(transforms)
    for group in bench("outputs", symmetry):
        for member, how in zip(group.members, group.transforms, strict=True):
            assert how in allowed
            expected = transforms[how](group.representative)
            assert np.array_equal(rows[member], expected, equal_nan=True), (member, how, group.representative)


def test_symmetry_merge_counts():
    plain, negation, sign = len(bench()), len(bench("outputs", "negation")), len(bench("outputs", "sign"))
    assert 390 <= plain - negation <= 425  # RESEARCH §3: about 408
    assert 580 <= plain - sign <= 620  # about 599
    assert sign < negation < plain


def test_numeric_classes_refine_nothing_and_join_only_close_functions():
    outputs, numeric = bench(), bench("numeric")
    assert len(numeric) < len(outputs)
    owner = {m: i for i, c in enumerate(numeric) for m in c.members}
    for group in outputs:  # numeric classes are unions of outputs classes
        assert len({owner[m] for m in group.members}) == 1
    # A wider probe, in float64 with the independent reference evaluator: members of a numeric
    # class are the same function there too, not only on AQuaSurF's 1,000 points. (Classes with
    # NaN or inf on the sample, like the all-NaN class of pow(negative, non-integer), are left
    # out: AQuaSurF lumps them by construction, and its surrogate discards them.)
    rows = bench_rows()
    probe = np.concatenate([np.linspace(-12.01, 12, 480), [-1e-3, 1e-3]])  # x = 0 exactly is never sampled
    for group in numeric:
        if len(group) == 1 or not np.isfinite(rows[group.members[0]]).all():
            continue
        values = np.stack([actlang.evaluate(m, probe) for m in group.members])
        head = values[0]
        assert (np.isnan(values) == np.isnan(head)).all(), group.members
        finite = np.isfinite(head) & np.isfinite(values).all(axis=0)
        assert np.allclose(values[:, finite], head[finite], rtol=1e-4, atol=1e-5), group.members


def test_numeric_is_nan_aware_and_tolerant():
    names = ["expm1(x)", "sub(exp(x),one(x))", "div(zero(x),zero(x))", "zero(x)"]
    outputs = search.deduplicate(names)
    numeric = search.deduplicate(names, by="numeric")
    assert len(outputs) == 4  # ulp differences between exp(x) - 1 and expm1(x) split them
    assert [len(c) for c in numeric] == [2, 1, 1]  # the all-NaN 0/0 never joins 0


def test_numeric_negation_folds_exact_and_near_negations():
    result = search.deduplicate(["expm1(x)", "sub(one(x),exp(x))", "exp(x)"], by="numeric", symmetry="negation")
    assert [sorted(c.transforms) for c in result] == [["-f(x)", "f(x)"], ["f(x)"]]


def test_features_are_float32_outputs_in_enumeration_order():
    space = search.space("unary(binary(unary(x),x))", unary=["relu", "exp", "negative"], binary=["add", "mul"])
    features = search.features(space)
    names = list(space)
    assert features.shape == (len(names), 1000) and features.dtype == np.float32
    by_strings = search.features(names)
    assert np.array_equal(features, by_strings, equal_nan=True)
    assert np.array_equal(features[names.index("relu(add(exp(x),x))")], np.maximum(np.exp(POINTS) + POINTS, 0))


def test_search_is_reachable_from_the_package():
    assert actlang.search.count(BENCH) == 5103


def test_bad_modes_are_actlang_errors():
    with pytest.raises(actlang.ActlangError, match="unknown dedup mode"):
        search.deduplicate(["relu(x)"], by="bits")
    with pytest.raises(actlang.ActlangError, match="unknown symmetry"):
        search.deduplicate(["relu(x)"], symmetry="mirror")
    with pytest.raises(actlang.ActlangError, match="not pointwise"):
        search.deduplicate(["ash(x)"])


def symbolic_layer() -> bool:
    try:
        from actlang import equivalent  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not symbolic_layer(), reason="actlang.equivalent (the symbolic layer) is not available")
def test_symbolic_joins_only_proved_equivalences():
    names = ["expm1(x)", "sub(exp(x),one(x))", "exp(x)", "add(exp(x),zero(x))"]
    result = search.deduplicate(names, by="symbolic")
    assert sorted(sorted(c.members) for c in result) == [
        ["add(exp(x),zero(x))", "exp(x)"],
        ["expm1(x)", "sub(exp(x),one(x))"],
    ]


SMALL = ("binary(unary(x),unary(x))", ["negative", "exp", "tanh", "sigmoid", "softplus", "log_sigmoid", "erf"])


@pytest.mark.parametrize("by", ["outputs", "numeric"])
@pytest.mark.parametrize("symmetry", ["none", "negation", "sign"])
def test_template_and_string_paths_agree_for_every_mode(by, symmetry):
    template, unary = SMALL
    space = search.space(template, unary=unary)
    from_space = search.deduplicate(space, by=by, symmetry=symmetry)
    from_strings = search.deduplicate(list(space), by=by, symmetry=symmetry)
    assert np.array_equal(from_space.labels, from_strings.labels)
    assert [c.transforms for c in from_space] == [c.transforms for c in from_strings]


def test_sign_folding_joins_reflections():
    # tanh is odd: tanh(-x) = -tanh(x); log_sigmoid(x) = -softplus(-x); exp(-x) is no sign flip of exp.
    result = search.deduplicate(["tanh(x)", "negative(tanh(negative(x)))", "softplus(x)", "log_sigmoid(x)", "exp(x)"],
                                symmetry="sign")
    groups = sorted(sorted(zip(c.members, c.transforms, strict=True)) for c in result)
    assert groups == [
        [("exp(x)", "f(x)")],
        [("log_sigmoid(x)", "-f(-x)"), ("softplus(x)", "f(x)")],
        [("negative(tanh(negative(x)))", "f(x)"), ("tanh(x)", "f(x)")],
    ]


def test_progress_bar_draws_on_request(capsys):
    search.deduplicate(search.space(BENCH), progress=True)
    err = capsys.readouterr().err
    assert "deduplicating" in err and "5,103/5,103" in err
    search.deduplicate(search.space(BENCH))  # not a terminal: silent
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(not symbolic_layer(), reason="actlang.equivalent (the symbolic layer) is not available")
def test_symbolic_reports_the_proved_transform():
    result = search.deduplicate(["expm1(x)", "sub(one(x),exp(x))"], by="symbolic", symmetry="negation")
    assert len(result) == 1 and sorted(result.classes[0].transforms) == ["-f(x)", "f(x)"]
