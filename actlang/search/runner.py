"""The search loop behind ``Study.run``: suggest, lease, train in workers, record, repeat.

Each trial is leased in the store before it is submitted and recorded when it returns, one
transaction each, so a killed driver loses only the trials in flight; their leases are taken
over by the next run at once when the dead driver was on this host, or after ``lease_s``. While
trials run the driver renews its leases every third of ``lease_s``. A trial that raises is
retried up to ``max_attempts`` times and then recorded ``failed`` with its traceback; a worker
process that dies takes its trial back to the queue (it counts as an attempt).
"""

from __future__ import annotations

import sys
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

import numpy as np

from actlang.errors import ActlangError
from actlang.search.executors import lost_worker_errors, make_executor
from actlang.search.store import owner_id
from actlang.search.strategy import Suggester
from actlang.search.worker import fisher_many, train_one

if TYPE_CHECKING:
    from actlang.search.study import Study

FISHER_CHUNK = 25
MAX_CONSECUTIVE_FAILURES = 5


def bar(total: int, initial: int, label: str, enabled: bool | None):
    """A tqdm progress bar on stderr (shown on a terminal unless ``enabled`` says otherwise)."""
    from tqdm.auto import tqdm

    disable = (not sys.stderr.isatty()) if enabled is None else not enabled
    return tqdm(total=total, initial=initial, desc=label, unit="class", disable=disable, file=sys.stderr)


class Runner:
    """One run of a study; not reusable."""

    def __init__(self, study: Study, strategy: str, workers: int, progress: bool | None, lease_s: float,
                 max_attempts: int, executor: str = "local", executor_options: dict | None = None):
        self.study, self.store = study, study.store
        self.executor_kind, self.executor_options = executor, executor_options or {}
        self.strategy, self.workers, self.progress = strategy, workers, progress
        self.lease_s, self.max_attempts = lease_s, max_attempts
        self.owner = owner_id()
        rows = self.store.classes()
        self.ids = [r.id for r in rows]
        self.names = [r.representative for r in rows]
        self.row_of = {cid: i for i, cid in enumerate(self.ids)}
        self.baselines = [i for i, r in enumerate(rows) if r.baseline]
        self.in_flight: dict[Future, int] = {}
        self.failures = 0
        self._executor: Executor | None = None

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = make_executor(self.study.task, self.workers, self.executor_kind,
                                           **self.executor_options)
        return self._executor

    def run(self, budget: int) -> None:
        self.store.recover()  # a killed run's trials in flight are pending again, and go first
        done = self.store.counts()["done"]
        if done >= budget:
            return
        try:
            # Fisher features only for a search that gets past the baselines (the baselines train
            # first, whatever the surrogate says): there they come first, so the embedding fits
            # while the baselines train; a budget within the baselines never computes them (they
            # took 8 minutes for the benchmark space). Stored as they are computed, so a killed
            # run keeps what it computed and a rerun computes only the rest.
            fisher = None
            if self.strategy in ("surrogate", "fisher"):
                fisher = self._fisher() if budget > len(self.baselines) else self._fisher
            suggester = Suggester(self.strategy, self.store.outputs(self.ids), fisher, self.baselines,
                                  seed=self.study.seed)
            if budget > len(self.baselines):  # suggestions beyond the baselines will be needed
                suggester.embed_in_background()
            with bar(budget, done, f"search {self.study.task_name}", self.progress) as progress:
                self._loop(budget, suggester, progress)
        finally:
            self._shutdown()

    def _loop(self, budget: int, suggester: Suggester, progress) -> None:
        while True:
            done = self.store.counts()["done"]
            while len(self.in_flight) < self.workers and done + len(self.in_flight) < budget:
                if not self._submit_next(suggester):
                    break
            if not self.in_flight:
                return
            finished, _ = wait(self.in_flight, timeout=self.lease_s / 3, return_when=FIRST_COMPLETED)
            self.store.renew(self.owner, self.lease_s)
            for future in finished:
                if self._record(future, self.in_flight.pop(future)):
                    progress.update(1)

    def _evaluated(self) -> tuple[dict[int, float], set[int]]:
        """Rows done (with accuracy), and rows not to suggest (failed, or running anywhere)."""
        accuracy: dict[int, float] = {}
        blocked: set[int] = set()
        for entry in self.store.results():
            row = self.row_of.get(entry["id"])
            if row is None:
                continue
            if entry["state"] == "done":
                accuracy[row] = entry["val_acc"] if entry["val_acc"] is not None else 0.0
            elif entry["state"] in ("failed", "running"):
                blocked.add(row)
        blocked |= {self.row_of[cid] for cid in self.in_flight.values()}
        return accuracy, blocked

    def _submit_next(self, suggester: Suggester) -> bool:
        accuracy, blocked = self._evaluated()
        interrupted = [self.row_of[c] for c in self.store.pending() if self.row_of.get(c) not in blocked]
        for _ in range(len(self.ids)):
            row = interrupted.pop(0) if interrupted else suggester.next(accuracy, blocked)
            if row is None:
                return False
            cid = self.ids[row]
            if self.store.claim(cid, self.owner, self.lease_s, self.max_attempts):
                self.in_flight[self.executor.submit(train_one, self.names[row], self.study.seed)] = cid
                return True
            blocked.add(row)  # someone else holds it, or it ran out of attempts
        return False

    def _record(self, future: Future, cid: int) -> bool:
        try:
            result = future.result()
        except lost_worker_errors(self.executor) as error:  # killed, out of memory, its node gone
            if isinstance(error, BrokenProcessPool):
                self._executor = None  # a process pool is broken for good: the next trial gets a new one
            result = {"error": f"the worker died during the trial ({type(error).__name__}: {error})"}
        if "error" not in result:
            self.failures = 0
            return self.store.finish(cid, self.owner, result)
        attempts = next((r["attempts"] for r in self.store.results() if r["id"] == cid), self.max_attempts)
        final = attempts >= self.max_attempts
        self.store.fail(cid, self.owner, result["error"], final)
        self.failures += 1
        if self.failures >= MAX_CONSECUTIVE_FAILURES:
            raise ActlangError(f"{self.failures} trials in a row failed; the last error:\n{result['error']}")
        return False

    def _fisher(self) -> np.ndarray:
        """Fisher features of every class, computing (in the workers) and storing missing ones.

        Called when the search first needs them, possibly with trials in flight: their leases are
        renewed meanwhile. Chunks are stored as they finish and at most two per worker are in
        flight, so progress shows and a killed run keeps what it computed."""
        missing = [i for i, row in enumerate(self.store.classes()) if row.fisher_valid is None]
        queue = [missing[i : i + FISHER_CHUNK] for i in range(0, len(missing), FISHER_CHUNK)]
        running: dict[Future, list[int]] = {}
        lost: dict[int, int] = {}  # chunk (by its first row) -> workers lost while computing it
        with bar(len(missing), 0, "Fisher features", self.progress) as progress:
            while queue or running:
                while queue and len(running) < 2 * self.workers:
                    chunk = queue.pop(0)
                    running[self.executor.submit(fisher_many, [self.names[i] for i in chunk])] = chunk
                finished, _ = wait(running, timeout=self.lease_s / 3, return_when=FIRST_COMPLETED)
                if self.in_flight:
                    self.store.renew(self.owner, self.lease_s)
                for future in finished:
                    chunk = running.pop(future)
                    values = self._fisher_values(future, chunk, lost)
                    if values is None:
                        queue.append(chunk)
                        continue
                    self.store.set_fisher({self.ids[i]: v for i, v in zip(chunk, values, strict=True)})
                    progress.update(len(chunk))
        return self.store.fisher(self.ids)

    def _fisher_values(self, future: Future, chunk: list[int], lost: dict[int, int]) -> list | None:
        """A chunk's features, or ``None`` to compute it again when its worker died (up to
        ``max_attempts`` times per chunk)."""
        try:
            return future.result()
        except lost_worker_errors(self.executor) as error:
            if isinstance(error, BrokenProcessPool):
                self._executor = None
            lost[chunk[0]] = lost.get(chunk[0], 0) + 1
            if lost[chunk[0]] >= self.max_attempts:
                raise ActlangError(f"Fisher features of {self.names[chunk[0]]!r} and the {len(chunk) - 1} classes "
                                   f"after it: the worker died {lost[chunk[0]]} times ({error})") from None
            return None

    def _shutdown(self) -> None:
        if self.in_flight:  # interrupted (Ctrl-C, an error): hand the leases back for the next run
            self.store.release(self.owner)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
