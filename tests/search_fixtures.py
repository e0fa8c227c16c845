"""Tiny tasks for the search tests (loaded by "tests.search_fixtures:NAME", as users load theirs)."""

from __future__ import annotations

import numpy as np

from actlang.search.task import Activation, ClassificationTask, Dataset


def tiny_data() -> Dataset:
    """Two classes of 16-sample signals: a bump on the left or on the right, plus noise."""
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 400)
    grid = np.arange(16)
    centre = np.where(y == 0, 4, 11)[:, None]
    x = np.exp(-((grid - centre) ** 2) / 4.0) + 0.3 * rng.normal(size=(400, 16))
    x = x.astype(np.float32)[:, None, None, :]
    return Dataset(x[:300], y[:300].astype(np.int64), x[300:], y[300:].astype(np.int64), 2)


def tiny_network(activation: Activation):
    from torch import nn

    return nn.Sequential(nn.Conv2d(1, 4, (1, 3)), activation(), nn.Flatten(), nn.Linear(4 * 14, 2))


def tiny() -> ClassificationTask:
    """30 Adam steps: a trial takes milliseconds."""
    return ClassificationTask("tiny", tiny_data, tiny_network, steps=30, batch_size=50, lr=3e-2)


def broken() -> ClassificationTask:
    """A task whose training raises (a user's bug)."""

    def network(activation: Activation):
        raise RuntimeError("this task is broken on purpose")

    return ClassificationTask("broken", tiny_data, network, steps=5)


NOT_A_TASK = 42


def slow() -> ClassificationTask:
    """Like ``tiny`` but about a second per trial: long enough to be killed in the middle."""
    return ClassificationTask("slow", tiny_data, tiny_network, steps=1500, batch_size=50, lr=3e-2)


def reporting() -> ClassificationTask:
    """Like ``slow``, and each trial first writes an empty file named after its process id into
    ``$ACTLANG_TEST_PIDS`` (so that a test can kill the worker in the middle of a trial)."""
    import os
    from pathlib import Path

    def network(activation: Activation):
        Path(os.environ["ACTLANG_TEST_PIDS"], str(os.getpid())).touch()
        return tiny_network(activation)

    return ClassificationTask("reporting", tiny_data, network, steps=1500, batch_size=50, lr=3e-2)


# -- a killed driver, for the tests of both executors ----------------------------------------------
def done_rows(store) -> list[tuple]:
    """``(class_id, finished, val_acc, attempts)`` of the done evaluations, in the order they finished."""
    import sqlite3
    from pathlib import Path

    if not Path(store).exists():
        return []
    try:
        with sqlite3.connect(store) as db:
            return db.execute("SELECT class_id, finished, val_acc, attempts FROM evaluations WHERE state = 'done' "
                              "ORDER BY order_done").fetchall()
    except sqlite3.OperationalError:
        return []


def kill_9_then_rerun(command: list[str], store, cwd, env: dict[str, str]) -> tuple[list, list, dict]:
    """Run ``command`` (an ``actlang search run`` on ``store``), ``kill -9`` its process group once
    3 classes are done, rerun it to the end; ``(done before, done after, states after)``."""
    import os
    import signal
    import sqlite3
    import subprocess
    import time

    first = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(done_rows(store)) < 3 and time.time() < deadline and first.poll() is None:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the driver, its workers (or its local Ray), mid-trial
    first.wait()
    before = done_rows(store)
    rerun = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    with sqlite3.connect(store) as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM evaluations GROUP BY state").fetchall())
    return before, done_rows(store), states
