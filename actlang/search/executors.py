"""Where trials run: in this process (one worker), or a pool of worker processes.

Workers are spawned (not forked: torch's thread pools do not survive a fork) and load the task
once, by its name or ``"package.module:factory"`` path. Each worker uses ``cores // workers`` torch
threads, so two workers on two cores do not fight over them.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from actlang.search.task import Task
from actlang.search.worker import init_worker


class InlineExecutor(Executor):
    """Runs each call at submission, in this process (one worker; tasks that cannot be pickled)."""

    def __init__(self, task: str | Task, threads: int | None = None):
        import torch

        init_worker(task, threads or torch.get_num_threads())

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:
            future.set_exception(error)
        return future


def make_executor(task: str | Task, workers: int, kind: str = "local", **ray_options: Any) -> Executor:
    """Where trials run. ``"local"``: a process pool of ``workers`` (spawned), or, for one worker,
    an :class:`InlineExecutor` (training in the driver itself costs no second interpreter, and a
    killed driver is resumed the same way). ``"ray"``: a :class:`RayExecutor` with ``ray_options``
    (``address``, ``cpus_per_trial``, ``gpus_per_trial``)."""
    if kind == "ray":
        from actlang.search.ray_executor import RayExecutor

        return RayExecutor(task, workers, **ray_options)
    cores = os.cpu_count() or 1
    threads = max(1, cores // workers)
    if workers == 1:
        return InlineExecutor(task, threads)
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(task, threads),
    )


def lost_worker_errors(executor: Executor) -> tuple[type[BaseException], ...]:
    """The exceptions by which ``executor`` says a worker died mid-call (the call is retried)."""
    return (BrokenProcessPool, *getattr(executor, "lost_errors", ()))
