"""A study as a replay table: one CSV row per evaluated class, with its Fisher features.

The columns are what :func:`actlang.search.simulate` reads (``name``, ``val_acc``, ``fisher_*``)
plus the rest of each result (losses, runtime, divergence, members, baseline). Fisher features
missing from the store are computed for the evaluated classes (only) and stored first.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from actlang.errors import ActlangError

if TYPE_CHECKING:
    from actlang.search.study import Study

COLUMNS = ("name", "val_acc", "val_loss", "train_loss", "runtime_s", "diverged", "members", "baseline", "order")


def export_table(study: Study, path: str | Path, metadata: dict[str, Any] | None = None,
                 progress: bool | None = None) -> int:
    """Write ``path`` (CSV) and ``path`` with ``.json`` (where the table came from); returns rows."""
    from actlang.search.fisher import fisher_features
    from actlang.search.runner import bar
    from actlang.search.tasks import load_task

    done = [r for r in study.results() if r["state"] == "done"]
    if not done:
        raise ActlangError(f"{str(study.path)!r} has no finished evaluation to export")
    missing = [r for r in done if _fisher_state(study, r["id"]) is None]
    if missing:
        task = load_task(study.task)
        with bar(len(missing), 0, "Fisher features", progress) as progress_bar:
            for start in range(0, len(missing), 25):
                chunk = missing[start : start + 25]
                values, valid = fisher_features(task, [r["name"] for r in chunk])
                study.store.set_fisher({r["id"]: (v, ok) for r, v, ok in zip(chunk, values, valid, strict=True)})
                progress_bar.update(len(chunk))
    fisher = study.store.fisher([r["id"] for r in done])
    path = Path(path)
    try:
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*COLUMNS, *(f"fisher_{i}" for i in range(fisher.shape[1]))])
            for row, vector in zip(done, fisher, strict=True):
                cells = ["" if not np.isfinite(v) else f"{v:.6g}" for v in vector]
                writer.writerow([row[c] if row[c] is not None else "" for c in COLUMNS] + cells)
        meta = {"rows": len(done), "task": study.task_name, "space": study.space, "seed": study.seed,
                **(metadata or {})}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    except OSError as error:
        raise ActlangError(f"cannot write {str(path)!r}: {error.strerror or error}") from error
    return len(done)


def _fisher_state(study: Study, class_id: int) -> bool | None:
    row = study.store.db.execute("SELECT fisher_valid FROM classes WHERE id = ?", (class_id,)).fetchone()
    return None if row is None or row[0] is None else bool(row[0])
