"""Trials on a Ray cluster: one Ray task per trial, the study's sqlite store stays on the driver.

Why Ray Core tasks and not Ray Tune: a trial is a stateless call (activation in, metrics out) and
the study already is the experiment's state — its store decides what runs, holds the leases and
counts the attempts. Tune would keep a second copy of that state and drive its own trial loop;
with plain tasks the driver's :class:`~actlang.search.runner.Runner` keeps suggesting as results
arrive, and Ray only places each call on a node with the resources it asks for
(``cpus_per_trial``, ``gpus_per_trial``).

Ray's own retries are off (``max_retries=0``): a worker process or node that dies fails its task
with one of :data:`LOST_WORKER_ERRORS`, and the runner records that as a failed attempt and puts
the trial back in the queue, so the store's attempt count is the only one. Each Ray worker process
loads the task once (on its first trial) and keeps it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

from actlang.errors import ActlangError
from actlang.search.task import Task

log = logging.getLogger(__name__)

_LOADED: dict[str, Task] = {}


def _ray():
    try:
        import ray
    except ImportError:
        raise ActlangError("executor='ray' needs Ray: pip install 'actlang[ray]'") from None
    return ray


def lost_worker_errors() -> tuple[type[BaseException], ...]:
    """Ray's errors for a call whose worker process, node or result was lost (not the task's bug)."""
    errors = _ray().exceptions
    return (errors.WorkerCrashedError, errors.NodeDiedError, errors.ObjectLostError, errors.OutOfMemoryError,
            errors.LocalRayletDiedError, errors.RaySystemError)


def _call_in_worker(task: str | Task, key: str, threads: int, fn: Callable[..., Any], *args: Any) -> Any:
    """Runs in a Ray worker: load ``task`` once per process (keyed by ``key``), then ``fn(*args)``."""
    import torch

    from actlang.search import worker
    from actlang.search.tasks import load_task

    if torch.get_num_threads() != threads:  # Ray reuses a worker process for calls of other sizes
        torch.set_num_threads(threads)
    if key not in _LOADED:
        _LOADED[key] = load_task(task)
    worker.use_task(_LOADED[key])
    return fn(*args)


class RayExecutor(Executor):
    """Submits calls as Ray tasks; futures are ``concurrent.futures.Future`` like the process pool's.

    ``address``: ``None`` starts a local Ray instance for this run (or uses one this process
    already started with ``ray.init``); ``"auto"`` joins the cluster this machine belongs to
    (``ray start --head`` ran here); ``"ray://host:port"`` connects through Ray Client.
    """

    def __init__(self, task: str | Task, workers: int, address: str | None = None,
                 cpus_per_trial: float | None = None, gpus_per_trial: float = 0.0):
        ray = _ray()
        self._started = False
        if not ray.is_initialized():
            _init(ray, address, code_to_ship(task) if address else [])
            self._started = True
        if cpus_per_trial is None:  # share the cluster's CPUs among the trials in flight
            cpus_per_trial = max(1.0, float(ray.cluster_resources().get("CPU", 1)) // workers)
        if cpus_per_trial <= 0 or gpus_per_trial < 0:
            raise ActlangError(f"cpus_per_trial must be > 0 and gpus_per_trial >= 0, "
                               f"got {cpus_per_trial} and {gpus_per_trial}")
        self.cpus_per_trial, self.gpus_per_trial = cpus_per_trial, gpus_per_trial
        self._threads = max(1, int(cpus_per_trial))
        self._key = task if isinstance(task, str) else f"object:{id(task)}:{os.getpid()}"
        self._task = task if isinstance(task, str) else ray.put(task)  # sent once, not with every trial
        self._remote = ray.remote(_call_in_worker).options(
            num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_retries=0
        )
        self._refs: list[Any] = []
        self.lost_errors = lost_worker_errors()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if kwargs:
            raise TypeError("RayExecutor.submit takes positional arguments only")
        ref = self._remote.remote(self._task, self._key, self._threads, fn, *args)
        self._refs = [*_unfinished(self._refs), ref]
        return ref.future()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        ray = _ray()
        if cancel_futures and ray.is_initialized():
            for ref in self._refs:
                ray.cancel(ref, force=True)
        self._refs = []
        if self._started and ray.is_initialized():
            ray.shutdown()


def _init(ray, address: str | None, py_modules: list[str]) -> None:
    log.info("starting Ray (%s)", address or "a local instance")
    runtime_env = {"py_modules": py_modules} if py_modules else None
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env=runtime_env)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ActlangError(f"cannot start or reach Ray at {address or 'this machine'}: {error}") from None


def code_to_ship(task: str | Task) -> list[str]:
    """The source folder of the package of a ``"package.module:factory"`` task when the package is
    not installed (a project checkout): Ray uploads it so that other nodes can import the task.
    Installed packages (actlang itself included), single-file modules and the code behind a
    :class:`Task` object must be importable on every node."""
    if not isinstance(task, str) or ":" not in task:
        return []
    spec = importlib.util.find_spec(task.split(":", 1)[0].split(".", 1)[0])
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations)))
    installed = {"site-packages", "dist-packages"} & set(folder.parts) or folder.name == "actlang"
    return [] if installed else [str(folder)]


def _unfinished(refs: list[Any]) -> list[Any]:
    """The calls still running (kept so that a shutdown can cancel them)."""
    if not refs:
        return refs
    _, pending = _ray().wait(refs, num_returns=len(refs), timeout=0)
    return pending
