"""Searches on Ray: scheduling overhead per trial, and the speed-up of two workers (docs/performance.md).

1. Overhead: ``Study.run`` with a task whose training returns at once (``NoOpTask``), on a local
   Ray instance, ``--noop`` trials with 2 workers: (wall time of the run) / trials. The Ray
   start-up is timed apart. The same with ``executor="local"`` for comparison, and a bare Ray
   round trip (``ray.get(f.remote())``, serial) for the floor.
2. Speed-up: ``--trials`` mnist1d trials (random strategy: no Fisher features), Ray with 1 worker
   (2 CPUs per trial: torch uses both cores) and with 2 workers (1 CPU each), each in a fresh
   study; ratio = 2-worker wall / 1-worker wall. ``--skip-train`` leaves it out.

Usage: ``python benchmarks/ray_bench.py [--noop 200] [--trials 20] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from actlang.search.task import Task

NOOP_SPACE = "binary(unary(x), unary(x))"


class NoOpTask(Task):
    """A task whose training does nothing: what is left of a trial is the search's own overhead."""

    name = "noop"

    def build(self, activation: str) -> Any:
        raise NotImplementedError

    def batch(self) -> Any:
        raise NotImplementedError

    def train_and_evaluate(self, activation: str, seed: int = 0) -> dict[str, Any]:
        return {"val_acc": 0.5, "val_loss": 1.0, "train_loss": 1.0, "runtime_s": 0.0, "diverged": False}


def timed_run(task: str | Task, space: str, trials: int, workers: int, executor: str, **options: Any) -> float:
    """Seconds of one ``Study.run`` of ``trials`` trials in a fresh store (the pool built beforehand)."""
    from actlang.search.study import Study

    with tempfile.TemporaryDirectory() as folder:
        study = Study(Path(folder, "s.db"), task=task, space=space, seed=0, pool=max(400, 2 * trials))
        start = time.perf_counter()
        study.run(trials, workers=workers, executor=executor, strategy="random", progress=False, **options)
        seconds = time.perf_counter() - start
        assert study.status()["evaluated"] == trials
        study.close()
    return seconds


def ray_round_trip(calls: int) -> float:
    import ray

    @ray.remote
    def nothing() -> None:
        return None

    ray.get(nothing.remote())  # a worker process started and warm
    start = time.perf_counter()
    for _ in range(calls):
        ray.get(nothing.remote())
    return (time.perf_counter() - start) / calls


def overhead(trials: int) -> dict[str, float]:
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    figures = {"ray_start_s": time.perf_counter() - start, "ray_round_trip_ms": 1e3 * ray_round_trip(100)}
    timed_run(NoOpTask(), NOOP_SPACE, 10, 2, "ray")  # Ray workers started and actlang imported in them
    figures["ray_ms_per_trial"] = 1e3 * timed_run(NoOpTask(), NOOP_SPACE, trials, 2, "ray") / trials
    ray.shutdown()
    figures["local_ms_per_trial"] = 1e3 * timed_run(NoOpTask(), NOOP_SPACE, trials, 1, "local") / trials
    return figures


def speed_up(trials: int) -> dict[str, float]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    timed_run("mnist1d", "benchmark", 2, 2, "ray", cpus_per_trial=1)  # data cached, workers warm
    one = timed_run("mnist1d", "benchmark", trials, 1, "ray", cpus_per_trial=2)
    two = timed_run("mnist1d", "benchmark", trials, 2, "ray", cpus_per_trial=1)
    ray.shutdown()
    return {"one_worker_s": one, "two_workers_s": two, "ratio": two / one}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noop", type=int, default=200, help="no-op trials for the overhead (default 200)")
    parser.add_argument("--trials", type=int, default=20, help="mnist1d trials per run (default 20)")
    parser.add_argument("--skip-train", action="store_true", help="only the overhead")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    import torch

    machine = f"{platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}"
    figures: dict[str, Any] = {"machine": machine}
    figures.update(overhead(args.noop))
    print(json.dumps(figures, indent=1), flush=True)
    if not args.skip_train:
        figures.update(speed_up(args.trials))
        print(json.dumps(figures, indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
