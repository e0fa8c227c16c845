"""What runs in a worker process: the task it trains, and the calls the executors submit.

A leaf of the search's execution: :mod:`actlang.search.executors` (process pools) and
:mod:`actlang.search.ray_executor` (Ray tasks) both load a task here and submit these functions.
"""

from __future__ import annotations

import traceback
from typing import Any

from actlang.search.task import Task

_TASK: Task | None = None


def init_worker(task: str | Task, threads: int) -> None:
    """Load ``task`` (a name, a ``package.module:factory`` path, or a task) for this process."""
    import torch

    from actlang.search.tasks import load_task

    torch.set_num_threads(threads)
    use_task(load_task(task))


def use_task(task: Task) -> None:
    """Make ``task`` the one this worker process trains (:func:`train_one`, :func:`fisher_many`)."""
    global _TASK
    _TASK = task


def train_one(activation: str, seed: int) -> dict[str, Any]:
    """Run in a worker: train ``activation``; an exception comes back as ``{"error": traceback}``."""
    assert _TASK is not None
    try:
        return _TASK.train_and_evaluate(activation, seed)
    except Exception:  # a user's task raising is a recorded failure, not a dead search
        return {"error": traceback.format_exc(limit=20)}


def fisher_many(names: list[str]) -> list[tuple[Any, bool]]:
    """Run in a worker: Fisher features of ``names`` (see :mod:`actlang.search.fisher`)."""
    from actlang.search.fisher import fisher_feature

    assert _TASK is not None
    return [fisher_feature(_TASK, name) for name in names]
