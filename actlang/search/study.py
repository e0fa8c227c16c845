"""``Study``: a resumable search over one space for one task, kept in an embedded store.

>>> study = Study("s.db", task="digits", space="benchmark")      # doctest: +SKIP
>>> study.run(budget=12)                                          # doctest: +SKIP
>>> study.best()["name"], study.best()["val_acc"]                # doctest: +SKIP

The first open enumerates the space, groups it into classes and stores them with their output
features; later opens (and reruns of the same command) read them back. ``run(budget)`` trains
classes until ``budget`` distinct classes are done — counting those done by earlier runs — so
a rerun after ``kill -9`` trains only what is missing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from actlang.errors import ActlangError
from actlang.search.pool import DEFAULT_POOL, candidates, check_space
from actlang.search.store import Store
from actlang.search.strategy import check_strategy
from actlang.search.task import Task

EXECUTORS = ("local", "ray")


class Study:
    """A search's store, task and space. ``task``/``space`` are needed only to create the store."""

    def __init__(self, path: str | os.PathLike[str], task: str | Task | None = None, space: str | None = None,
                 *, seed: int = 0, pool: int | None = DEFAULT_POOL, progress: bool | None = None):
        self.path = Path(path)
        self.task = task
        if space is not None:
            check_space(space)  # a mistyped preset fails before a store is made (or compared)
        self.store = Store(self.path)
        meta = self.store.meta()
        if "task" in meta:
            self._check_same(meta, task, space)
        else:
            if task is None or space is None:
                raise ActlangError(f"{str(self.path)!r} is a new store: give a task and a space to create it")
            self._create(task, space, seed, pool, progress)
        meta = self.store.meta()
        self.task_name = meta.get("task_name", meta["task"])
        self.space, self.seed = meta["space"], int(meta["seed"])
        if self.task is None:
            self.task = meta["task"]  # reopened from the store alone: the task as it was given

    def _check_same(self, meta: dict[str, str], task: str | Task | None, space: str | None) -> None:
        # A task given by text must be the same text; a Task object must carry the same name.
        known = meta.get("task_name", meta["task"])
        same = task is None or (task.name == known if isinstance(task, Task) else task == meta["task"])
        if not same:
            name = task.name if isinstance(task, Task) else task
            raise ActlangError(f"store {str(self.path)!r} holds a search for task {meta['task']!r}, not {name!r}")
        if space is not None and space != meta["space"]:
            raise ActlangError(f"store {str(self.path)!r} holds a search of space {meta['space']!r}, not {space!r}")

    def _create(self, task: str | Task, space: str, seed: int, pool: int | None, progress: bool | None) -> None:
        from actlang.search.tasks import load_task

        loaded = load_task(task)  # a bad task name fails before the space is enumerated
        rows = [(c.key, c.representative, c.baseline, c.outputs, c.members) for c in candidates(space, pool, seed)]
        self.store.add_classes(rows)
        spec = task if isinstance(task, str) else loaded.name
        self.store.set_meta({"task": spec, "task_name": loaded.name, "space": space, "seed": seed,
                             "pool": pool or 0})

    # -- reading ---------------------------------------------------------------------------
    def results(self) -> list[dict[str, Any]]:
        """Every evaluation (done, failed, running), in the order they finished."""
        return self.store.results()

    def top(self, n: int = 10) -> list[dict[str, Any]]:
        """The ``n`` best done classes, best ``val_acc`` first (one entry per class)."""
        done = [r for r in self.results() if r["state"] == "done"]
        done.sort(key=lambda r: (-(r["val_acc"] if r["val_acc"] is not None else -1.0), r["order"]))
        return done[:n]

    def best(self) -> dict[str, Any] | None:
        best = self.top(1)
        return best[0] if best else None

    def status(self) -> dict[str, Any]:
        """``status`` (docs/search.md): counts per state and the best class so far."""
        counts = self.store.counts()
        best = self.best()
        return {
            "evaluated": counts["done"], "failed": counts["failed"], "running": counts["running"],
            "pending": counts["pending"], "classes": len(self.store.classes()), "task": self.task_name,
            "space": self.space, "best": None if best is None else {"name": best["name"], "val_acc": best["val_acc"]},
        }

    def members(self, name: str) -> list[str]:
        """Every string of the class whose representative is ``name``."""
        for row in self.store.classes():
            if row.representative == name:
                return self.store.members(row.id)
        raise ActlangError(f"no class {name!r} in {str(self.path)!r}")

    def features(self) -> tuple[list[int], np.ndarray, np.ndarray]:
        """``(class ids, outputs, fisher)`` in id order; Fisher rows NaN where missing or invalid."""
        ids = [row.id for row in self.store.classes()]
        return ids, self.store.outputs(ids), self.store.fisher(ids)

    # -- searching -------------------------------------------------------------------------
    def run(self, budget: int, workers: int = 1, executor: str = "local", *, strategy: str = "surrogate",
            progress: bool | None = None, lease_s: float = 600.0, max_attempts: int = 3,
            address: str | None = None, cpus_per_trial: float | None = None,
            gpus_per_trial: float = 0.0) -> list[dict[str, Any]]:
        """Evaluate classes until ``budget`` distinct classes are done (earlier runs count).

        ``workers`` trials run at once: in a local process pool (``executor="local"``) or as Ray
        tasks (``executor="ray"``; ``address`` as for ``ray.init``: ``None`` starts Ray on this
        machine, ``"auto"`` joins its cluster, ``"ray://host:port"`` connects to a remote one),
        each trial asking Ray for ``cpus_per_trial`` CPUs (default: the cluster's CPUs shared
        among the workers) and ``gpus_per_trial`` GPUs."""
        from actlang.search.runner import Runner

        check_strategy(strategy)
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise ActlangError(f"budget must be a non-negative integer, got {budget!r}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ActlangError(f"workers must be a positive integer, got {workers!r}")
        if executor not in EXECUTORS:
            raise ActlangError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
        options = {}
        if executor == "ray":
            options = {"address": address, "cpus_per_trial": cpus_per_trial, "gpus_per_trial": gpus_per_trial}
        elif (address, cpus_per_trial, gpus_per_trial) != (None, None, 0.0):
            raise ActlangError("address, cpus_per_trial and gpus_per_trial are options of executor='ray'")
        Runner(self, strategy, workers, progress, lease_s, max_attempts, executor, options).run(budget)
        return self.results()

    def close(self) -> None:
        self.store.close()
