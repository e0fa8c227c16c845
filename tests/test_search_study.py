"""The search: tasks, the store's state machine, Fisher features, studies that resume."""

from __future__ import annotations

import math
import sqlite3
import time

import numpy as np
import pytest

from actlang.errors import ActlangError
from actlang.search.fisher import fisher_features, layer_cdf, spectrum_cdf
from actlang.search.store import Store, owner_id
from actlang.search.study import Study
from actlang.search.tasks import load_task
from tests.search_fixtures import tiny

SPACE = "unary(x)"  # 27 strings + the 8 baselines: 27 classes


# -- tasks -------------------------------------------------------------------------------------
def test_task_result_fields_and_determinism():
    task = tiny()
    first, again = task.train_and_evaluate("relu(x)", seed=3), task.train_and_evaluate("relu(x)", seed=3)
    assert {"val_acc", "val_loss", "train_loss", "runtime_s", "diverged"} <= set(first)
    assert first["val_acc"] == again["val_acc"] and first["train_loss"] == again["train_loss"]
    assert first["val_acc"] > 0.8 and first["diverged"] is False


def test_task_device_auto_and_explicit(monkeypatch):
    import dataclasses

    import torch

    task = tiny()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a Ray trial given one GPU sees it as cuda
    assert task.training_device() == torch.device("cuda")
    monkeypatch.undo()
    assert task.training_device() == torch.device("cpu" if not torch.cuda.is_available() else "cuda")
    on_cpu = dataclasses.replace(task, device="cpu").train_and_evaluate("relu(x)", seed=3)
    if not torch.cuda.is_available():  # "auto" is the CPU here: the same training
        assert on_cpu == {**task.train_and_evaluate("relu(x)", seed=3), "runtime_s": on_cpu["runtime_s"]}


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a GPU")
def test_task_trains_on_the_gpu():
    import dataclasses

    result = dataclasses.replace(tiny(), device="cuda").train_and_evaluate("x * sigmoid(x)", seed=0)
    assert result["val_acc"] > 0.8


@pytest.mark.parametrize("activation", ["reciprocal(zero(x))", "log(negative(abs(x)) - 1)", "sqrt(-1 - x * x)"])
def test_diverged_training_is_a_result(activation):
    result = tiny().train_and_evaluate(activation)
    assert result["diverged"] is True
    assert result["val_acc"] == 0.5  # chance for two classes
    assert not math.isfinite(result["train_loss"]) or not math.isfinite(result["val_loss"])


def test_builtin_digits_network_shapes():
    task = load_task("digits-fast")
    x, y = task.batch()
    assert x.shape[1:] == (1, 8, 8) and len(x) == len(y)
    assert task.build("tanh(x)")(x).shape == (len(x), 10)


@pytest.mark.parametrize(("spec", "message"), [
    ("mnist2d", "unknown task"), ("no_such_module:factory", "cannot load task"),
    ("tests.search_fixtures:missing", "cannot load task"), ("tests.search_fixtures:NOT_A_TASK", "must be"),
    ("", "a task is"),
])
def test_bad_task_is_a_clear_error(spec, message):
    with pytest.raises(ActlangError, match=message):
        load_task(spec)


def test_user_task_by_path():
    assert load_task("tests.search_fixtures:tiny").name == "tiny"


# -- Fisher features ---------------------------------------------------------------------------
def test_spectrum_cdf_bins_and_values():
    # log-eigenvalues of A ⊗ G are the pairwise sums: {1, 2} + {3} = {4, 5}, both in one bin of 2
    cdf = spectrum_cdf(np.array([1.0, 2.0]), np.array([3.0]), num_weights=250)
    assert cdf.shape == (2,) and cdf.tolist() == [0.0, 1.0]
    # sums −60, −130 (outside [−100, 100]: dropped, as np.histogram with a range does), 10, −60
    cdf = spectrum_cdf(np.array([-60.0, 10.0]), np.array([0.0, -70.0]), num_weights=400)  # 4 bins of 50
    assert np.allclose(cdf, [2 / 3, 2 / 3, 1.0, 1.0])


def test_layer_cdf_matches_the_kronecker_spectrum():
    rng = np.random.default_rng(0)
    a, g = rng.normal(size=(6, 6)), rng.normal(size=(4, 4))
    a, g = a @ a.T + np.eye(6), g @ g.T + np.eye(4)
    direct = np.log(np.linalg.eigvalsh(np.kron(a, g)))
    counts, _ = np.histogram(direct, bins=max(1, 24 // 100), range=(-100, 100))
    assert np.allclose(layer_cdf(a, g), np.cumsum(counts) / counts.sum())
    assert np.isnan(layer_cdf(a * np.nan, g)).all()


def test_fisher_features_valid_and_invalid():
    features, valid = fisher_features(tiny(), ["relu(x)", "tanh(x)", "zero(x)", "reciprocal(zero(x))"])
    assert valid.tolist() == [True, True, False, False]
    assert features.shape == (4, 1 + 1)  # conv: 4·(3+1) weights → 1 bin; linear: 2·57 → 1 bin
    assert np.isnan(features[2:]).all() and (features[:2] == 1.0).all()


def test_fisher_features_on_mnist1d_shape():
    pytest.importorskip("mnist1d")
    task = load_task("mnist1d-fast")
    features, valid = fisher_features(task, ["relu(x)", "swish(x)"])
    assert valid.all() and features.shape == (2, 1 + 19 + 19 + 12)
    for start, stop in ((1, 20), (20, 39), (39, 51)):  # each layer's CDF is monotone and ends at 1
        assert (np.diff(features[:, start:stop], axis=1) >= 0).all() and (features[:, stop - 1] == 1).all()
    assert not np.array_equal(features[0], features[1])


# -- the store ---------------------------------------------------------------------------------
def _store_with_classes(path, n=3) -> Store:
    store = Store(path)
    store.add_classes((f"k{i}", f"f{i}(x)", False, np.full(4, i, np.float32), [f"f{i}(x)"]) for i in range(n))
    return store


def test_store_state_machine(tmp_path):
    store = _store_with_classes(tmp_path / "s.db")
    me, other = owner_id(), owner_id()
    assert store.claim(1, me, lease_s=60, max_attempts=3)
    assert not store.claim(1, other, lease_s=60, max_attempts=3)  # leased, and I am alive
    assert not store.finish(1, other, {"val_acc": 0.5})  # only the holder records
    assert store.finish(1, me, {"val_acc": 0.75, "diverged": False})
    assert not store.claim(1, other, lease_s=60, max_attempts=3)  # done is done
    assert store.claim(2, me, lease_s=-1, max_attempts=3)  # an expired lease ...
    assert store.claim(2, other, lease_s=60, max_attempts=3)  # ... is taken over
    store.fail(2, other, "boom", final=False)
    assert store.counts() == {"pending": 1, "running": 0, "done": 1, "failed": 0}
    assert store.claim(2, me, 60, max_attempts=2) is False  # two attempts used up
    assert store.claim(2, me, 60, max_attempts=3)
    store.fail(2, me, "boom again", final=True)
    assert store.counts()["failed"] == 1
    done = store.results()[0]
    assert done["val_acc"] == 0.75 and done["state"] == "done" and done["members"] == 1


def test_store_reclaims_a_dead_local_owner(tmp_path):
    store = _store_with_classes(tmp_path / "s.db")
    import socket

    dead = f"{socket.gethostname()}:999999999:deadbeef"  # no such pid
    remote = "another-host:1:cafe"
    assert store.claim(1, dead, lease_s=3600, max_attempts=3)
    assert store.claim(2, remote, lease_s=3600, max_attempts=3)
    assert store.claim(1, owner_id(), 60, 3)  # the dead driver's lease is taken at once
    assert not store.claim(2, owner_id(), 60, 3)  # another machine's lease is trusted until it expires


def test_store_keys_are_unique_and_errors_are_clear(tmp_path):
    store = _store_with_classes(tmp_path / "s.db")
    with pytest.raises(sqlite3.IntegrityError):
        store.add_classes([("k0", "again(x)", False, np.zeros(4, np.float32), [])])
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(ActlangError, match="cannot open store"):
        Store(tmp_path / "junk.db")
    with pytest.raises(ActlangError, match="directory"):
        Store(tmp_path)
    with pytest.raises(ActlangError, match="does not exist"):
        Store(tmp_path / "missing" / "s.db")
    store.db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ActlangError, match="schema version 99"):
        Store(tmp_path / "s.db")


# -- studies -----------------------------------------------------------------------------------
def test_study_random_search_baselines_first_and_resume(tmp_path):
    path = tmp_path / "s.db"
    study = Study(path, task=tiny(), space=SPACE)
    assert len(study.store.classes()) == 27
    study.run(10, strategy="random", progress=False)
    done = [r for r in study.results() if r["state"] == "done"]
    assert len(done) == 10 and len({r["id"] for r in done}) == 10
    assert all(r["baseline"] for r in done[:8]) and not any(r["baseline"] for r in done[8:])
    finished = {r["id"]: r["val_acc"] for r in done}
    study.run(10, strategy="random", progress=False)  # nothing left to do
    study.run(12, strategy="random", progress=False)
    again = Study(path)  # reopened from the store alone
    results = [r for r in again.results() if r["state"] == "done"]
    assert len(results) == 12
    assert {r["id"]: r["val_acc"] for r in results[:10]} == finished
    assert again.best()["val_acc"] == max(r["val_acc"] for r in results)
    assert [r["val_acc"] for r in again.top(3)] == sorted((r["val_acc"] for r in results), reverse=True)[:3]


def test_members_share_one_result(tmp_path):
    study = Study(tmp_path / "s.db", task=tiny(), space="binary(unary(x),unary(x))", pool=40)
    study.run(8, strategy="random", progress=False)
    relu = next(r for r in study.results() if r["name"] == "relu(x)")
    members = study.members("relu(x)")
    assert relu["members"] == len(members) > 1 and "max(relu(x),zero(x))" in members


def test_study_rejects_a_different_task_or_space(tmp_path):
    Study(tmp_path / "s.db", task=tiny(), space=SPACE)
    with pytest.raises(ActlangError, match="task"):
        Study(tmp_path / "s.db", task="digits", space=SPACE)
    with pytest.raises(ActlangError, match="space"):
        Study(tmp_path / "s.db", task="tiny", space="benchmark")
    with pytest.raises(ActlangError, match="new store"):
        Study(tmp_path / "new.db")
    with pytest.raises(ActlangError, match="budget"):
        Study(tmp_path / "s.db").run(-1)
    with pytest.raises(ActlangError, match="strategy"):
        Study(tmp_path / "s.db").run(3, strategy="genetic")


def test_a_broken_task_fails_cleanly(tmp_path):
    from tests.search_fixtures import broken

    study = Study(tmp_path / "s.db", task=broken(), space=SPACE)
    with pytest.raises(ActlangError, match="broken on purpose"):
        study.run(5, strategy="random", progress=False)
    counts = study.store.counts()
    assert counts["done"] == 0 and counts["failed"] >= 1 and counts["running"] == 0
    failed = next(r for r in study.results() if r["state"] == "failed")
    assert "broken on purpose" in failed["error"] and failed["attempts"] == 3


@pytest.mark.xdist_group("umap")
def test_surrogate_search_suggests_after_the_baselines(tmp_path):
    study = Study(tmp_path / "s.db", task=tiny(), space=SPACE)
    started = time.perf_counter()
    study.run(11, strategy="surrogate", progress=False)
    done = [r for r in study.results() if r["state"] == "done"]
    assert len(done) == 11 and all(r["baseline"] for r in done[:8])
    ids, outputs, fisher = study.features()
    valid = np.isfinite(fisher).all(axis=1) & np.isfinite(outputs).all(axis=1)
    chosen = {r["id"] for r in done[8:]}
    assert all(valid[ids.index(c)] for c in chosen)  # the surrogate only proposes valid classes
    assert time.perf_counter() - started < 300


@pytest.mark.xdist_group("umap")
def test_embedding_fits_in_the_background_and_errors_surface_where_needed(monkeypatch):
    from actlang.search import strategy

    rng = np.random.default_rng(0)
    outputs, fisher = rng.normal(size=(40, 12)), rng.normal(size=(40, 6))
    suggester = strategy.Suggester("surrogate", outputs, fisher, baselines=[0, 1], seed=0)
    suggester.embed_in_background()
    thread = suggester._embedding_thread
    assert thread is not None
    thread.join(timeout=300)
    assert suggester._embedding is not None and suggester._embedding.shape == (40, 2)  # before any suggestion
    assert suggester.next({0: 0.5, 1: 0.6}) not in (0, 1)

    def fail(*args, **kwargs):
        raise ValueError("embedding failed")

    monkeypatch.setattr(strategy, "embed", fail)
    broken = strategy.Suggester("surrogate", outputs, fisher, baselines=[0], seed=0)
    broken.embed_in_background()
    with pytest.raises(ValueError, match="embedding failed"):  # raised in the driver, not lost in the thread
        broken.next({0: 0.5})
    random = strategy.Suggester("random", outputs, None, baselines=[0], seed=0)
    random.embed_in_background()
    assert random._embedding_thread is None  # nothing to fit
