"""Searches on Ray: a local cluster started by the tests, a worker killed mid-trial, a killed driver."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from actlang.errors import ActlangError  # noqa: E402
from actlang.search.study import Study  # noqa: E402
from tests.search_fixtures import kill_9_then_rerun  # noqa: E402

pytestmark = pytest.mark.xdist_group("ray")  # one local cluster per test worker, started once

ROOT = Path(__file__).resolve().parents[1]
SPACE = "unary(x)"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pids = tmp_path_factory.mktemp("pids")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"ACTLANG_TEST_PIDS": str(pids)}})
    yield pids
    ray.shutdown()


def _evaluations(store: Path) -> list[tuple]:
    with sqlite3.connect(store) as db:
        return db.execute("SELECT class_id, state, attempts, error FROM evaluations ORDER BY class_id").fetchall()


def test_ray_search_evaluates_each_class_once(cluster, tmp_path):
    study = Study(tmp_path / "s.db", task="tests.search_fixtures:tiny", space=SPACE, seed=0)
    results = study.run(10, workers=2, executor="ray", strategy="random", progress=False)
    done = [r for r in results if r["state"] == "done"]
    assert len(done) == 10 and len({r["id"] for r in done}) == 10
    assert {row[1] for row in _evaluations(tmp_path / "s.db")} == {"done"}
    local = Study(tmp_path / "l.db", task="tests.search_fixtures:tiny", space=SPACE, seed=0)
    local.run(10, strategy="random", progress=False)  # same seeds, same trials: the same accuracies
    assert {r["name"]: r["val_acc"] for r in done} == {r["name"]: r["val_acc"] for r in local.top(10)}


def _start_killer(pids: Path) -> tuple[threading.Thread, list[int]]:
    """A thread that kills the first worker to start a training from now on; the pids it killed."""
    for stale in pids.iterdir():  # workers of earlier tests, alive and idle: not to be killed
        stale.unlink()
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_reporting_worker, args=(pids, killed))
    killer.start()
    return killer, killed


def _kill_first_reporting_worker(pids: Path, killed: list[int]) -> None:
    """SIGKILL the first live process that reported itself in ``pids`` (see ``search_fixtures.reporting``)."""
    deadline = time.time() + 300
    while not killed and time.time() < deadline:
        for pid_file in pids.iterdir():
            try:
                os.kill(int(pid_file.name), signal.SIGKILL)
                killed.append(int(pid_file.name))
                return
            except ProcessLookupError:
                pid_file.unlink()
        time.sleep(0.05)


def test_ray_worker_killed_mid_trial_is_retried(cluster, tmp_path):
    store = tmp_path / "s.db"
    study = Study(store, task="tests.search_fixtures:reporting", space=SPACE, seed=0)
    killer, killed = _start_killer(cluster)
    study.run(4, workers=2, executor="ray", strategy="random", progress=False)
    killer.join()
    assert killed
    rows = _evaluations(store)
    assert [row[1] for row in rows].count("done") == 4 and {row[1] for row in rows} == {"done"}
    retried = [row for row in rows if row[2] == 2]
    assert len(retried) == 1 and "WorkerCrashedError" in retried[0][3]  # the kill is on record


def test_ray_worker_killed_while_computing_fisher_features(cluster, tmp_path):
    store = tmp_path / "s.db"
    study = Study(store, task="tests.search_fixtures:reporting", space=SPACE, seed=0)
    study.run(8, workers=2, executor="ray", strategy="fisher", progress=False)  # the baselines need no features
    assert all(row.fisher_valid is None for row in study.store.classes())
    killer, killed = _start_killer(cluster)
    study.run(9, workers=2, executor="ray", strategy="fisher", progress=False)  # the 9th class needs them first
    killer.join()
    assert killed
    rows = study.store.classes()
    assert len(rows) == 27 and all(row.fisher_valid is not None for row in rows)  # every chunk computed
    assert study.status()["evaluated"] == 9


def test_ray_task_bug_is_recorded_not_retried_forever(cluster, tmp_path):
    study = Study(tmp_path / "s.db", task="tests.search_fixtures:broken", space=SPACE, seed=0)
    with pytest.raises(ActlangError, match="broken on purpose"):
        study.run(3, workers=2, executor="ray", strategy="random", progress=False, max_attempts=2)
    rows = _evaluations(tmp_path / "s.db")
    assert rows and all(attempts <= 2 for _, _, attempts, _ in rows)
    assert any(state == "failed" and "Traceback" in error for _, state, _, error in rows)


def test_ray_options_are_checked(tmp_path):
    study = Study(tmp_path / "s.db", task="tests.search_fixtures:tiny", space=SPACE, seed=0)
    with pytest.raises(ActlangError, match="executor='ray'"):
        study.run(1, address="auto")
    with pytest.raises(ActlangError, match="unknown executor"):
        study.run(1, executor="dask")


def test_cli_ray_flags_need_the_ray_executor(capsys, tmp_path):
    from actlang.cli import main

    code = main(["search", "run", "--task", "tests.search_fixtures:tiny", "--space", SPACE, "--budget", "1",
                 "--store", str(tmp_path / "s.db"), "--gpus-per-trial", "1"])
    assert code == 2 and "--gpus-per-trial: options of --executor ray" in capsys.readouterr().err


def test_ray_driver_kill_9_then_rerun(tmp_path):
    store = tmp_path / "s.db"
    command = [sys.executable, "-m", "actlang", "search", "run", "--task", "tests.search_fixtures:slow", "--space",
               SPACE, "--budget", "8", "--store", str(store), "--strategy", "random", "--workers", "2",
               "--executor", "ray", "--cpus-per-trial", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_ADDRESS": ""}
    before, after, states = kill_9_then_rerun(command, store, ROOT, env)
    assert 3 <= len(before) < 8
    assert len(after) == 8 and len({row[0] for row in after}) == 8
    assert after[: len(before)] == before  # nothing done was redone (same finish times and results)
    assert states == {"done": 8}


def test_code_shipped_to_a_cluster_is_the_task_package_when_not_installed():
    from actlang.search.ray_executor import code_to_ship

    assert code_to_ship("tests.search_fixtures:tiny") == [str(ROOT / "tests")]  # a checkout: uploaded
    assert code_to_ship("mnist1d") == []  # built-in
    assert code_to_ship("sklearn.datasets:load_digits") == []  # installed on the nodes
    assert code_to_ship("actlang.search.tasks:load_task") == []
    assert code_to_ship("no_such_package.tasks:make") == []  # its import error comes from the worker
