"""``actlang enumerate``."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from actlang import search
from actlang.cli import main

BENCH = "binary(unary(x),unary(x))"


def run(capsys, *argv):
    code = main(["enumerate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_counts(capsys):
    assert run(capsys, BENCH, "--count")[1] == "strings: 5103\n"
    assert run(capsys, "--preset", "aquasurf-large", "--count", "--json")[1] == '{"strings": 1023524}\n'
    code, out, _ = run(capsys, BENCH, "--count", "--unique", "outputs", "--symmetry", "negation")
    classes = len(search.deduplicate(search.space(BENCH), symmetry="negation"))
    assert code == 0 and out.splitlines() == ["strings: 5103", f"classes: {classes} (by outputs, symmetry negation)"]


def test_plain_csv_lists_every_string_in_order(capsys):
    code, out, _ = run(capsys, BENCH)
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == ["name"]
    assert [r[0] for r in rows[1:]] == list(search.enumerate(BENCH))


def test_unique_json_jsonl_and_file_output(capsys, tmp_path):
    template, ops = "binary(unary(x),x)", ["--unary", "relu,zero,leaky_relu[slope=0.2]", "--binary", "add,mul"]
    code, out, err = run(capsys, template, *ops, "--unique", "outputs", "--format", "json")
    classes = json.loads(out)
    assert code == 0 and "classes" in err
    assert sum(c["size"] for c in classes) == 6
    assert {"add(zero(x),x)", "mul(one(x),x)"} <= {m for c in classes for m in c["members"]} | {"mul(one(x),x)"}
    target = tmp_path / "classes.jsonl"
    assert run(capsys, template, *ops, "--unique", "outputs", "--format", "jsonl", "-o", str(target))[0] == 0
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines == classes
    assert json.loads(run(capsys, template, *ops, "--unique", "outputs", "--json")[1]) == classes
    zero_class = next(c for c in classes if "add(zero(x),x)" in c["members"])
    assert zero_class["representative"] == max(zero_class["members"])


def test_csv_classes(capsys):
    code, out, _ = run(capsys, BENCH, "--unique", "outputs", "--symmetry", "sign")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and sum(int(r["size"]) for r in rows) == 5103
    assert all(len(r["members"].split()) == int(r["size"]) == len(r["transforms"].split()) for r in rows)


def test_bad_input_exits_2_with_a_caret(capsys):
    code, _, err = run(capsys, "binary(unary(x),sigmod(x))")
    assert code == 2 and "sigmod" in err and "^" in err
    code, _, err = run(capsys, "unary(x)", "--unary", "add")
    assert code == 2 and "takes 2 arguments" in err
    code, _, err = run(capsys, BENCH, "--symmetry", "negation")
    assert code == 2 and "--unique" in err


def test_valid_drops_constant_and_non_finite_functions(capsys):
    template, ops = "binary(unary(x),x)", ["--unary", "zero,one,reciprocal,relu,exp,log", "--binary", "add,mul,div"]
    code, out, _ = run(capsys, template, *ops, "--valid", "--json")
    kept = json.loads(out)
    assert code == 0 and "add(relu(x),x)" in kept and "mul(exp(x),x)" in kept
    assert "mul(zero(x),x)" not in kept and "div(zero(x),x)" not in kept  # constant 0
    assert "div(one(x),x)" in kept and "add(log(x),x)" not in kept  # log of the negative points: NaN
    points = search.features(kept)
    assert np.isfinite(points).all() and not (points == points[:, :1]).all(axis=1).any()
    code, out, _ = run(capsys, template, *ops, "--valid", "--count", "--json")
    counts = json.loads(out)
    assert counts["strings"] == len(kept) and counts["strings"] + sum(counts["dropped"].values()) == 18
    assert counts["dropped"]["non-finite"] >= 3 and counts["dropped"]["constant"] >= 2
    code, out, _ = run(capsys, template, *ops, "--valid", "--count")
    assert out.splitlines()[0] == f"strings: {len(kept)}" and out.splitlines()[1].startswith("dropped constant: ")
    code, out, _ = run(capsys, template, *ops, "--valid", "--unique", "outputs", "--count", "--json")
    unique = json.loads(out)
    assert unique["classes"] <= len(kept) and set(unique["dropped"]) == {"constant", "non-finite"}
    code, out, _ = run(capsys, template, *ops, "--valid", "--unique", "outputs", "--format", "json")
    assert all(c["representative"] in kept for c in json.loads(out))
