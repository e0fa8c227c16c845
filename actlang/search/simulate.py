"""Replaying searches on a table of measured results (AQuaSurF's "searching on the benchmarks").

A table is a CSV with one row per class: ``name`` (its representative), ``val_acc``, and the Fisher
feature columns ``fisher_0 … fisher_{k-1}`` (empty where invalid); output features are recomputed
from the names. Each trial runs the same :class:`~actlang.search.strategy.Suggester` a live search
uses, but looks results up instead of training, until it has seen the table's top 1 % and at least
the largest of ``checkpoints`` evaluations. Trials differ by the seed of the embedding and of
tie-breaking (and, for ``random``, of the draw).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from actlang.errors import ActlangError
from actlang.search.space import BASELINES
from actlang.search.strategy import Suggester, check_strategy

TABLES_DIR = Path(__file__).resolve().parent / "tables"
CHECKPOINTS = (25, 50, 100)


@dataclass
class Table:
    """Measured results: names, accuracies, Fisher features (NaN rows invalid), outputs."""

    names: list[str]
    val_acc: np.ndarray
    fisher: np.ndarray
    outputs: np.ndarray

    @property
    def baselines(self) -> list[int]:
        index = {n: i for i, n in enumerate(self.names)}
        return [index[b] for b in BASELINES if b in index]

    def top_threshold(self, share: float = 0.01) -> float:
        """The accuracy of the ``ceil(share·n)``-th best class: reaching it means reaching the top."""
        k = max(1, math.ceil(share * len(self.val_acc)))
        return float(np.sort(self.val_acc)[::-1][k - 1])


def table_path(spec: str | Path) -> Path:
    """A shipped table's name (``mnist1d-benchmark``) or a CSV path."""
    shipped = TABLES_DIR / f"{spec}.csv"
    if shipped.exists():
        return shipped
    path = Path(spec)
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in TABLES_DIR.glob("*.csv")))
        raise ActlangError(f"no table {str(spec)!r}: not a shipped table ({names}) nor a CSV file")
    return path


def load_table(spec: str | Path) -> Table:
    from actlang.search.features import features

    path = table_path(spec)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError) as error:
        raise ActlangError(f"cannot read table {str(path)!r}: {error}") from error
    if not rows or "name" not in rows[0] or "val_acc" not in rows[0]:
        raise ActlangError(f"table {str(path)!r} needs the columns name and val_acc")
    columns = sorted((c for c in rows[0] if c.startswith("fisher_")), key=lambda c: int(c.split("_")[1]))
    names = [r["name"] for r in rows]
    accuracy = np.array([_number(r["val_acc"]) for r in rows])
    fisher = np.array([[_number(r[c]) for c in columns] for r in rows], np.float32).reshape(len(rows), len(columns))
    return Table(names, np.nan_to_num(accuracy, nan=0.0), fisher, features(names))


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def trial(table: Table, strategy: str, seed: int, steps: int, embedding: np.ndarray | None = None) -> np.ndarray:
    """The accuracies a search evaluates, in order (at least ``steps`` and until the top 1 %)."""
    suggester = Suggester(strategy, table.outputs, table.fisher, table.baselines, seed=seed, embedding=embedding)
    rng = np.random.default_rng(seed)
    threshold, n = table.top_threshold(), len(table.names)
    seen: dict[int, float] = {}
    order: list[float] = []
    while len(seen) < n and (len(seen) < steps or max(order) < threshold):
        row = suggester.next(seen, rng=rng)
        if row is None:  # the strategy's candidates are exhausted: go on at random
            row = int(rng.choice(np.setdiff1d(np.arange(n), list(seen))))
        seen[row] = float(table.val_acc[row])
        order.append(seen[row])
    return np.array(order)


def summarise(curves: list[np.ndarray], threshold: float, checkpoints=CHECKPOINTS) -> dict[str, Any]:
    reach = [int(np.argmax(c >= threshold)) + 1 if (c >= threshold).any() else math.inf for c in curves]
    best = [np.maximum.accumulate(c) for c in curves]
    return {
        "median_evals_to_top1pct": float(np.median(reach)),
        "mean_evals_to_top1pct": float(np.mean(reach)),
        "best_after": {str(k): float(np.median([b[min(k, len(b)) - 1] for b in best])) for k in checkpoints},
        "trials": len(curves),
    }


def simulate(table: str | Path | Table, strategy: str = "surrogate", trials: int = 50, *, seed: int = 0,
             embeddings: int | None = 10, progress: bool | None = None) -> dict[str, Any]:
    """Replay ``trials`` searches with ``strategy``; its summary (docs/search.md) and the median curve.

    ``embeddings`` caps the distinct UMAP fits (trial i uses embedding seed ``i mod embeddings``;
    ``None``: one per trial); tie-breaking and random draws always use the trial's own seed.
    """
    from actlang.search.runner import bar

    strategy = check_strategy(strategy)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ActlangError(f"trials must be a positive integer, got {trials!r}")
    data = table if isinstance(table, Table) else load_table(table)
    cache: dict[int, np.ndarray] = {}
    curves = []
    with bar(trials, 0, f"simulate {strategy}", progress) as progress_bar:
        for i in range(trials):
            embedding_seed = seed + (i % embeddings if embeddings else i)
            embedding = None
            if strategy != "random":
                if embedding_seed not in cache:
                    probe = Suggester(strategy, data.outputs, data.fisher, data.baselines, seed=embedding_seed)
                    cache[embedding_seed] = probe.surrogate.embedding
                embedding = cache[embedding_seed]
            curves.append(trial(data, strategy, seed + 1000 + i, max(CHECKPOINTS), embedding))
            progress_bar.update(1)
    summary = summarise(curves, data.top_threshold())
    longest = max(len(c) for c in curves)
    padded = np.array([np.pad(np.maximum.accumulate(c), (0, longest - len(c)), mode="edge") for c in curves])
    summary["median_best_curve"] = np.median(padded, axis=0).tolist()
    summary["top1pct_threshold"] = data.top_threshold()
    summary["classes"] = len(data.names)
    return summary
