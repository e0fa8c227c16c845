"""``actlang search run``'s inputs fail clearly (a mistyped preset, a constant template, a task
factory that needs arguments or raises), and Fisher features are computed only when first needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from actlang.errors import ActlangError, ConstantExpressionError, UnknownNameError
from actlang.search.pool import check_space
from actlang.search.study import Study
from actlang.search.tasks import load_task
from tests.search_fixtures import tiny

ROOT = Path(__file__).resolve().parent.parent
SPACE = "unary(x)"  # 27 strings + the 8 baselines: 27 classes


def actlang(*argv: str, cwd: Path = ROOT, pythonpath: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), pythonpath) if p)}
    return subprocess.run([sys.executable, "-m", "actlang", *argv], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


# -- item: --space ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("space", "message"), [
    ("benchmarks", "unknown space preset 'benchmarks'; did you mean 'benchmark'?"),
    ("aquasurf_large", "unknown space preset 'aquasurf_large'; did you mean 'aquasurf-large'?"),
    ("nosuch", "unknown space preset 'nosuch' (presets: benchmark, aquasurf-large"),
])
def test_a_mistyped_preset_exits_2_and_creates_no_store(tmp_path, space, message):
    store = tmp_path / "sp1.db"
    done = actlang("search", "run", "--task", "digits-fast", "--space", space, "--budget", "1", "--store", str(store))
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "benchmark, aquasurf-large" in done.stderr
    assert "Traceback" not in done.stderr and "warning" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert not store.exists()  # refused before anything was made (or trained)


@pytest.mark.parametrize(("space", "error", "message"), [
    ("one(1)", ConstantExpressionError, "never uses the input x"),
    ("relu(z)", ConstantExpressionError, "never uses the input x"),
    ("2", ConstantExpressionError, "never uses the input x"),
    ("unary(x);binary(one(1),zero(2))", ConstantExpressionError, "binary(one(1),zero(2))"),
    ("Benchmark", UnknownNameError, "did you mean 'benchmark'"),
    ("aquasurf-lrge", UnknownNameError, "did you mean 'aquasurf-large'"),
    ("unary", ActlangError, "placeholder"),
    ("benchmark;unary(x)", ActlangError, "cannot be combined"),
    ("", ActlangError, "a space is a preset"),
])
def test_check_space_refuses_names_and_constant_templates(space, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_space(space)


def test_check_space_accepts_presets_and_templates_using_x():
    assert check_space("benchmark") == ("benchmark", [])
    assert check_space("aquasurf-large") == ("aquasurf-large", [])
    assert check_space("x") == (None, ["x"])
    assert check_space("unary(x); binary(unary(x),x)") == (None, ["unary(x)", "binary(unary(x),x)"])
    assert check_space("unary(x)*beta") == (None, ["unary(x)*beta"])  # a learned scalar beside x is fine
    assert check_space("-unary(x)") == (None, ["-unary(x)"])


def test_study_refuses_a_mistyped_preset_before_making_a_store(tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean 'benchmark'"):
        Study(tmp_path / "s.db", task=tiny(), space="benchmarks")
    assert not (tmp_path / "s.db").exists()


# -- item: task factories ----------------------------------------------------------------------------
USER_TASKS = '''
def needs_arg(n):
    raise AssertionError("never called")

def raising():
    raise RuntimeError("no data set here\\nsecond line")

def optional(steps=3):
    from tests.search_fixtures import tiny
    return tiny()
'''


@pytest.fixture
def user_tasks(tmp_path, monkeypatch):
    """A module of task factories, importable in this process and in a subprocess (PYTHONPATH)."""
    name = f"usertasks_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_TASKS)
    (tmp_path / f"{name}_broken.py").write_text("raise ValueError('the module itself is broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


@pytest.mark.parametrize(("factory", "message"), [
    ("needs_arg", r"task factory '{m}:needs_arg' needs arguments \(n\)"),
    ("raising", r"task factory '{m}:raising' failed: RuntimeError: no data set here$"),
])
def test_a_task_factory_that_needs_arguments_or_raises_is_one_clear_error(user_tasks, factory, message):
    with pytest.raises(ActlangError, match=message.format(m=user_tasks)) as caught:
        load_task(f"{user_tasks}:{factory}")
    assert "\n" not in str(caught.value)


def test_a_task_module_that_raises_on_import_is_a_clear_error(user_tasks):
    with pytest.raises(ActlangError, match=r"importing '\w+_broken' raised ValueError: the module itself is broken"):
        load_task(f"{user_tasks}_broken:anything")


def test_a_factory_with_default_arguments_is_called(user_tasks):
    assert load_task(f"{user_tasks}:optional").name == "tiny"


@pytest.mark.parametrize(("task", "words"), [
    ("os:system", ["task factory 'os:system' needs arguments", "command"]),
    ("{m}:needs_arg", ["task factory '{m}:needs_arg' needs arguments", "'n'"]),
    ("{m}:raising", ["task factory '{m}:raising' failed", "RuntimeError", "no data set here"]),
])
def test_search_run_with_a_bad_task_factory_exits_2_in_one_line(tmp_path, user_tasks, task, words):
    task = task.format(m=user_tasks)
    done = actlang("search", "run", "--task", task, "--space", SPACE, "--budget", "1", "--store",
                   str(tmp_path / "b.db"), pythonpath=str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("actlang: ActlangError: ") and len(done.stderr.splitlines()) == 1
    assert all(word.format(m=user_tasks) in done.stderr for word in words), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""  # os.system ran nothing


# -- item: Fisher features only when the surrogate first needs them --------------------------------
def test_a_budget_within_the_baselines_computes_no_fisher_features(tmp_path, monkeypatch):
    from actlang.search.runner import Runner

    def refuse(self):
        raise AssertionError("Fisher features computed although the surrogate is never consulted")

    monkeypatch.setattr(Runner, "_fisher", refuse)
    study = Study(tmp_path / "s.db", task=tiny(), space=SPACE)
    study.run(1, strategy="surrogate", progress=False)
    study.run(3, strategy="surrogate", progress=False)  # (all 8 baselines: 23 s of training)
    done = [r for r in study.results() if r["state"] == "done"]
    assert len(done) == 3 and all(r["baseline"] for r in done)
    assert all(row.fisher_valid is None for row in study.store.classes())


def _fake_embed(outputs, fisher, features="both", seed=0):
    """A quick stand-in for UMAP: the candidates' first two output values."""
    return np.asarray(outputs, np.float64)[:, :2]


def test_suggester_computes_fisher_features_once_after_the_baselines(monkeypatch):
    from actlang.search import strategy

    monkeypatch.setattr(strategy, "embed", _fake_embed)
    rng = np.random.default_rng(0)
    outputs, fisher = rng.normal(size=(20, 12)), rng.normal(size=(20, 6))
    fisher[5] = np.nan  # an invalid class: never suggested by the surrogate
    calls = []

    def compute():
        calls.append(1)
        return fisher

    suggester = strategy.Suggester("surrogate", outputs, compute, baselines=[0, 1], seed=0)
    suggester.embed_in_background()  # not while the features it needs are to be computed
    assert suggester._embedding_thread is None
    assert suggester.next({}) == 0 and suggester.next({0: 0.5}) == 1 and calls == []  # the baselines need none
    assert suggester.next({0: 0.5}, busy={1}) not in (0, 1) and calls == [1]
    seen = {0: 0.5, 1: 0.6}
    for _ in range(5):
        row = suggester.next(seen)
        assert row not in seen and row != 5
        seen[row] = 0.1
    assert calls == [1]
    lazy = strategy.Suggester("random", outputs, compute, baselines=[0], seed=0)
    assert lazy.next({0: 0.5}) is not None and calls == [1]  # random search needs no Fisher features


def test_fisher_features_resume_where_an_interrupted_run_stopped(tmp_path, monkeypatch):
    from actlang.search import runner, strategy
    from actlang.search.worker import fisher_many

    monkeypatch.setattr(strategy, "embed", _fake_embed)
    monkeypatch.setattr(runner, "FISHER_CHUNK", 5)
    chunks: list[int] = []

    def interrupted(names):
        chunks.append(len(names))
        if len(chunks) == 5:
            raise KeyboardInterrupt  # the run is stopped (Ctrl-C, kill) in the middle of the features
        return fisher_many(names)

    monkeypatch.setattr(runner, "fisher_many", interrupted)
    study = Study(tmp_path / "s.db", task=tiny(), space=SPACE)
    with pytest.raises(KeyboardInterrupt):
        study.run(10, strategy="surrogate", progress=False)
    total = len(study.store.classes())
    kept = sum(row.fisher_valid is not None for row in study.store.classes())
    assert 20 <= kept < total  # the chunks finished before the interruption were stored
    # a budget past the baselines computes the features first (the embedding then fits while
    # the baselines train): no trial ran, none is left running
    assert study.store.counts()["done"] == 0 and study.store.counts()["running"] == 0

    chunks.clear()
    monkeypatch.setattr(runner, "fisher_many", lambda names: chunks.append(len(names)) or fisher_many(names))
    study.run(10, strategy="surrogate", progress=False)
    assert sum(chunks) == total - kept  # the rerun computed only what was missing
    assert all(row.fisher_valid is not None for row in study.store.classes())
    done = [r for r in study.results() if r["state"] == "done"]
    ids, outputs, fisher = study.features()
    valid = np.isfinite(fisher).all(axis=1) & np.isfinite(outputs).all(axis=1)
    assert len(done) == 10 and all(valid[ids.index(r["id"])] for r in done[8:])
