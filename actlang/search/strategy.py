"""Which class to evaluate next: the 8 baselines first, then one strategy (docs/search.md).

- ``surrogate``: KNN regression on the joint UMAP embedding of outputs and Fisher features
  (AQuaSurF), over candidates whose two features are valid.
- ``outputs`` / ``fisher``: the same on one feature kind (candidates valid for it).
- ``random``: uniformly among every unevaluated class.

The same :class:`Suggester` drives live searches and replays on a measured table, so a simulated
search makes exactly the choices a live one would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Literal

import numpy as np

from actlang.errors import ActlangError
from actlang.search.surrogate import Features, Surrogate, embed

Strategy = Literal["surrogate", "outputs", "fisher", "random"]
STRATEGIES: tuple[Strategy, ...] = ("surrogate", "outputs", "fisher", "random")
FEATURES_OF: dict[str, Features] = {"surrogate": "both", "outputs": "outputs", "fisher": "fisher"}


def check_strategy(strategy: str) -> Strategy:
    if strategy not in STRATEGIES:
        raise ActlangError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    return strategy  # type: ignore[return-value]


def eligible(strategy: Strategy, outputs_valid: np.ndarray, fisher_valid: np.ndarray) -> np.ndarray:
    """Indices of the classes a strategy may suggest after the baselines."""
    mask = {
        "surrogate": outputs_valid & fisher_valid,
        "outputs": outputs_valid,
        "fisher": fisher_valid,
        "random": np.ones_like(outputs_valid),
    }[strategy]
    return np.flatnonzero(mask)


class Suggester:
    """Suggests class indices (rows of the feature arrays) given what has been evaluated.

    ``fisher`` may be a function returning the array: it is called (once, in the calling thread)
    only when a suggestion beyond the baselines needs it, so a search that never gets past the
    baselines never computes Fisher features."""

    def __init__(
        self,
        strategy: str,
        outputs: np.ndarray,
        fisher: np.ndarray | Callable[[], np.ndarray | None] | None,
        baselines: Sequence[int],
        *,
        seed: int = 0,
        embedding: np.ndarray | None = None,
    ):
        self.strategy = check_strategy(strategy)
        self.n, self.seed, self.baselines = len(outputs), seed, list(baselines)
        self._outputs, self._fisher_source, self._embedding = outputs, fisher, embedding
        self._pool: np.ndarray | None = None
        self._surrogate: Surrogate | None = None
        self._embedding_thread: threading.Thread | None = None

    @property
    def needs_fisher(self) -> bool:
        """Whether the strategy's candidates or embedding depend on Fisher features."""
        return self.strategy in ("surrogate", "fisher")

    @property
    def fisher(self) -> np.ndarray | None:
        """The Fisher features (computed now if they were given as a function)."""
        if callable(self._fisher_source):
            self._fisher_source = self._fisher_source()
        return self._fisher_source

    @property
    def pool(self) -> np.ndarray:
        """Indices of the classes the strategy may suggest after the baselines."""
        if self._pool is None:
            n = self.n
            outputs_valid = np.isfinite(self._outputs).all(axis=1) if n else np.zeros(0, bool)
            fisher_valid = np.zeros(n, bool)
            fisher = self.fisher if self.needs_fisher else None
            if fisher is not None and fisher.shape[1] > 0:
                fisher_valid = np.isfinite(fisher).all(axis=1)
            self._pool = eligible(self.strategy, outputs_valid, fisher_valid)
        return self._pool

    def embed_in_background(self) -> None:
        """Start fitting the embedding in a thread: it needs no results, so a live search fits it
        while the baselines train instead of idling a worker when the first suggestion is due.
        Not while Fisher features it needs are still to be computed (they are computed when first
        needed, in the driver's thread)."""
        if self.strategy == "random" or self._embedding is not None:
            return
        if self.needs_fisher and callable(self._fisher_source):
            return
        if len(self.pool):
            self._embedding_thread = threading.Thread(target=self._embed_or_leave, daemon=True)
            self._embedding_thread.start()

    def _embed_or_leave(self) -> None:
        try:
            self._embed()
        except Exception:
            self._embedding = None

    def _embed(self) -> None:
        outputs = self._outputs[self.pool]
        fisher = self.fisher[self.pool] if self.needs_fisher and self.fisher is not None else None
        self._embedding = embed(outputs, fisher, FEATURES_OF[self.strategy], self.seed)

    @property
    def surrogate(self) -> Surrogate:
        """The KNN surrogate over the eligible classes (embedding fitted on first use)."""
        if self._surrogate is None:
            if self._embedding_thread is not None:
                self._embedding_thread.join()
                self._embedding_thread = None
            if self._embedding is None:  # not started, or the thread failed: fit here (and raise here)
                self._embed()
            self._surrogate = Surrogate(self._embedding)
        return self._surrogate

    def next(self, evaluated: Mapping[int, float], busy: Collection[int] = (),
             rng: np.random.Generator | None = None) -> int | None:
        """The next class to evaluate, or ``None`` when every candidate is taken."""
        taken = set(evaluated) | set(busy)
        for index in self.baselines:
            if index not in taken:
                return index
        rng = rng if rng is not None else np.random.default_rng([self.seed, len(taken)])
        if self.strategy == "random" or not len(self.pool):
            return self._random(taken, np.arange(self.n), rng)
        position = {int(c): i for i, c in enumerate(self.pool)}
        known = [(position[c], acc) for c, acc in evaluated.items() if c in position]
        if not known:
            return self._random(taken, self.pool, rng)
        surrogate = self.surrogate.fit([i for i, _ in known], [a for _, a in known])
        exclude = [position[c] for c in taken if c in position]
        best = surrogate.suggest(1, exclude=exclude, rng=rng)
        return int(self.pool[best[0]]) if best else None

    @staticmethod
    def _random(taken: set[int], among: np.ndarray, rng: np.random.Generator) -> int | None:
        free = among[~np.isin(among, np.fromiter(taken, np.int64, len(taken)))]
        return int(rng.choice(free)) if len(free) else None
