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
