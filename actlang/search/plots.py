"""Figures of a search: progress (AQuaSurF's Figure 9), the embedding (Figure 4), and replays.

Each function writes one image; the format follows the file's extension (png, svg, pdf).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from actlang.errors import ActlangError

if TYPE_CHECKING:
    from actlang.search.study import Study

FORMATS = (".png", ".svg", ".pdf")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ActlangError("plots need matplotlib: pip install 'actlang[plot]'") from error
    return plt


def _save(figure, path: str | Path) -> None:
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ActlangError(f"cannot draw to {str(path)!r}: use a .png, .svg or .pdf file")
    try:
        figure.savefig(path, dpi=150, bbox_inches="tight")
    except OSError as error:
        raise ActlangError(f"cannot write {str(path)!r}: {error.strerror or error}") from error
    finally:
        _pyplot().close(figure)


def plot_progress(study: Study, path: str | Path) -> None:
    """Validation accuracy of each evaluation in order (baselines marked), and the best so far."""
    plt = _pyplot()
    done = [r for r in study.results() if r["state"] == "done"]
    if not done:
        raise ActlangError(f"{str(study.path)!r} has no finished evaluation to draw")
    accuracy = np.array([r["val_acc"] if r["val_acc"] is not None else np.nan for r in done])
    baseline = np.array([r["baseline"] for r in done])
    steps = np.arange(1, len(done) + 1)
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.scatter(steps[~baseline], accuracy[~baseline], s=14, color="tab:blue", label="candidate")
    axes.scatter(steps[baseline], accuracy[baseline], s=22, marker="^", color="tab:orange", label="baseline")
    axes.plot(steps, np.fmax.accumulate(np.nan_to_num(accuracy, nan=0.0)), color="black", label="best so far")
    best = study.best()
    if best is not None:
        axes.set_title(f"{study.task_name} on {study.space}: best {best['name']} ({best['val_acc']:.4f})", fontsize=9)
    axes.set_xlabel("evaluation (distinct class)")
    axes.set_ylabel("validation accuracy")
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(alpha=0.3)
    _save(figure, path)


def plot_embedding(study: Study, path: str | Path, seed: int | None = None) -> None:
    """The candidates' 2-D embedding (outputs ∪ Fisher, as the surrogate sees them); evaluated
    classes coloured by validation accuracy, the rest grey."""
    from actlang.search.surrogate import embed

    plt = _pyplot()
    ids, outputs, fisher = study.features()
    valid = np.isfinite(outputs).all(axis=1)
    use_fisher = fisher.shape[1] > 0 and bool((np.isfinite(fisher).all(axis=1) & valid).sum() > 10)
    if use_fisher:
        valid &= np.isfinite(fisher).all(axis=1)
    rows = np.flatnonzero(valid)
    points = embed(outputs[rows], fisher[rows] if use_fisher else None, "both" if use_fisher else "outputs",
                   study.seed if seed is None else seed)
    accuracy = {r["id"]: r["val_acc"] for r in study.results() if r["state"] == "done"}
    scored = np.array([ids[r] in accuracy for r in rows])
    values = np.array([accuracy.get(ids[r]) or 0.0 for r in rows])
    figure, axes = plt.subplots(figsize=(6, 5))
    axes.scatter(points[~scored, 0], points[~scored, 1], s=3, color="0.8", label="not evaluated")
    shown = axes.scatter(points[scored, 0], points[scored, 1], c=values[scored], s=18, cmap="viridis")
    figure.colorbar(shown, ax=axes, label="validation accuracy")
    kind = "outputs ∪ Fisher" if use_fisher else "outputs"
    axes.set_title(f"UMAP of {len(rows)} classes ({kind}); {int(scored.sum())} evaluated", fontsize=9)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.legend(loc="lower right", fontsize=8)
    _save(figure, path)


def plot_simulation(results: dict[str, dict[str, Any]], path: str | Path, title: str = "") -> None:
    """Median best-so-far accuracy against evaluations, one line per strategy."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    for strategy, result in results.items():
        curve = np.asarray(result["median_best_curve"])[:200]
        axes.plot(np.arange(1, len(curve) + 1), curve, label=strategy)
    threshold = next(iter(results.values()), {}).get("top1pct_threshold")
    if threshold is not None:
        axes.axhline(threshold, color="0.5", linestyle="--", linewidth=1, label="top 1 % of the table")
    axes.set_xlabel("evaluations")
    axes.set_ylabel("best validation accuracy so far (median of trials)")
    axes.set_title(title, fontsize=9)
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(alpha=0.3)
    _save(figure, path)
