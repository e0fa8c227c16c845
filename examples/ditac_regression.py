"""DiTAC's toy regressions (supplement §A.2) on CPU: fit a sum of sines with a one-hidden-layer
MLP once per activation, and report test MSE and R².

- ``--task 1d`` (Table 8): ``0.4 sin(19x) + 0.2 sin(23x) + 0.3 sin(29x) + 0.1 sin(31x)`` on
  [-1, 1], MLP 1→64→1, 1,000 random test points.
- ``--task 2d`` (paper Table 2, supplement eq. 1–2): ``0.4 sin(9xy) + 0.1 sin(−9x + 11y) +
  0.15 sin(3x + 13y) + 0.15 sin(9x + 9y) + 0.1 sin(13x + 5y) + 0.1 sin(3x + 19y)`` on [-1, 1]²,
  MLP 2→50→1, tested on a held-out 64 × 64 grid.

    python examples/ditac_regression.py [--task 1d|2d] [--steps N] [--seeds 1]
        [--activations ditac,relu,...] [--markdown table.md] [--plot docs/images/fit.png]

Every activation is an actlang expression compiled with ``actlang.compile``; DiTAC is
``ditac`` (a = −3, b = 3, 10 cells, one θ shared by the layer, as in the paper's regression
example). Adam, batch 98, no weight decay; each activation takes the best of a few learning
rates on the validation split (the supplement does the same), and the table reports test R².
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

import actlang

ACTIVATIONS = {
    "ditac": "ditac(x)",
    "relu": "relu(x)",
    "leaky_relu": "leaky_relu(x)",
    "gelu": "gelu(x)",
    "elu": "elu(x)",
    "softplus": "softplus(x)",
    "mish": "mish(x)",
    "silu": "silu(x)",
    "prelu": "prelu(x)",
}
LEARNING_RATES = (1e-3, 3e-3, 1e-2)
Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]


def target_1d(x: torch.Tensor) -> torch.Tensor:
    """Supplement eq. 3: 0.4 sin(19x) + 0.2 sin(23x) + 0.3 sin(29x) + 0.1 sin(31x); x is [N, 1]."""
    return 0.4 * torch.sin(19 * x) + 0.2 * torch.sin(23 * x) + 0.3 * torch.sin(29 * x) + 0.1 * torch.sin(31 * x)


# (cx, cy, amplitude) of the linear-phase terms a·sin(cx·x + cy·y) of supplement eq. 1–2.
SINES_2D = ((-9, 11, 0.1), (3, 13, 0.15), (9, 9, 0.15), (13, 5, 0.1), (3, 19, 0.1))


def target_2d(xy: torch.Tensor) -> torch.Tensor:
    """Supplement eq. 1–2: 0.4 sin(9xy) + Σ a·sin(cx·x + cy·y) over SINES_2D; xy is [N, 2]."""
    x, y = xy[:, :1], xy[:, 1:]
    out = 0.4 * torch.sin(9 * x * y)
    for cx, cy, amplitude in SINES_2D:
        out = out + amplitude * torch.sin(cx * x + cy * y)
    return out


def grid_2d(side: int) -> torch.Tensor:
    """The ``side × side`` grid of [-1, 1]² as [side², 2] (row-major in y, then x), endpoints included."""
    axis = torch.linspace(-1, 1, side)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)


@dataclass(frozen=True)
class Task:
    """One regression problem: input dimension, hidden width, target, split sizes, test design."""

    inputs: int
    hidden: int
    target: Callable[[torch.Tensor], torch.Tensor]
    train: int
    validation: int
    test: int  # random test points, or the side of the held-out test grid when ``test_grid``
    test_grid: bool = False


TASKS = {
    "1d": Task(inputs=1, hidden=64, target=target_1d, train=2000, validation=500, test=1000),
    "2d": Task(inputs=2, hidden=50, target=target_2d, train=5000, validation=1000, test=64, test_grid=True),
}


def data(seed: int, task: Task = TASKS["1d"]) -> Splits:
    """Uniform random points of [-1, 1]^inputs for training and validation; the test split is
    more random points or the regular grid (its points differ from the random ones almost surely)."""
    generator = torch.Generator().manual_seed(seed)
    counts = {"train": task.train, "validation": task.validation}
    if not task.test_grid:
        counts["test"] = task.test
    out = {}
    for name, count in counts.items():
        x = torch.rand(count, task.inputs, generator=generator) * 2 - 1
        out[name] = (x, task.target(x))
    if task.test_grid:
        x = grid_2d(task.test)
        out["test"] = (x, task.target(x))
    return out


def r2(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(MSE, R²) with R² = 1 − MSE / Var(y) (population variance, as sklearn's r2_score)."""
    with torch.no_grad():
        mse = (model(x) - y).pow(2).mean().item()
    return mse, 1.0 - mse / y.var(unbiased=False).item()


def train(spec: str, lr: float, steps: int, seed: int, splits: Splits, task: Task = TASKS["1d"]) -> nn.Module:
    """The MLP inputs→hidden→1 with activation ``spec``, trained with Adam (batch 98) for ``steps``."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = nn.Sequential(nn.Linear(task.inputs, task.hidden), actlang.compile(spec), nn.Linear(task.hidden, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = splits["train"]
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randint(0, len(x), (98,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss = (model(x[batch]) - y[batch]).pow(2).mean()
        loss.backward()
        optimizer.step()
    return model


def plot(path: str, task: Task, models: dict[str, tuple[nn.Module, float]]) -> None:
    """Target vs DiTAC vs the best other activation (by test R²): curves for 1-D, images for 2-D.

    Uses matplotlib's Agg canvas directly (no pyplot, so no global backend state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    others = [name for name in models if name != "ditac"]
    rival = max(others, key=lambda name: models[name][1]) if others else None
    shown = [(name, *models[name]) for name in ("ditac", rival) if name in models]
    if task.inputs == 1:
        figure = Figure(figsize=(8, 3.2), layout="constrained")
        axes = figure.add_subplot()
        x = torch.linspace(-1, 1, 1001)[:, None]
        axes.plot(x[:, 0], task.target(x)[:, 0], color="black", linewidth=2.2, label="target")
        for (name, model, score), color in zip(shown, ("#e15759", "#4e79a7"), strict=False):
            with torch.no_grad():
                axes.plot(
                    x[:, 0], model(x)[:, 0], color=color, linewidth=1.1, label=f"{name} (test R² {100 * score:.1f} %)"
                )
        axes.set(xlabel="x", ylabel="y", xlim=(-1, 1))
        axes.legend(loc="lower left", fontsize=8)
    else:
        side = 201
        x = grid_2d(side)
        panels = [("target", task.target(x))]
        with torch.no_grad():
            panels += [(f"{name} (R² {100 * score:.1f} %)", model(x)) for name, model, score in shown]
        figure = Figure(figsize=(3.2 * len(panels), 3.2), layout="constrained")
        low, high = panels[0][1].min().item(), panels[0][1].max().item()
        for i, (title, values) in enumerate(panels):
            axes = figure.add_subplot(1, len(panels), i + 1)
            image = axes.imshow(values.reshape(side, side), origin="lower", extent=(-1, 1, -1, 1),
                                vmin=low, vmax=high, cmap="viridis")  # fmt: skip
            axes.set(title=title, xlabel="x", ylabel="y" if i == 0 else None)
        figure.colorbar(image, ax=figure.axes, shrink=0.8)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=110, metadata={"Software": None} if path.endswith(".png") else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="1d")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps (default 15000 for 1d, 5000 for 2d)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--activations", default=",".join(ACTIVATIONS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--lrs", default=None, help="learning rates to pick from (default 1e-3,3e-3,1e-2 for 1d, 3e-3,1e-2 for 2d)"
    )
    parser.add_argument("--markdown", help="also write the results table to this file")
    parser.add_argument("--plot", help="save target vs DiTAC vs the best other activation (last seed) to this PNG/SVG")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = TASKS[args.task]
    steps = args.steps or (15000 if args.task == "1d" else 5000)
    lrs = [float(lr) for lr in (args.lrs or ("1e-3,3e-3,1e-2" if args.task == "1d" else "3e-3,1e-2")).split(",")]
    rows, fitted = [], {}
    for name in args.activations.split(","):
        spec = ACTIVATIONS.get(name, name)
        scores, start = [], time.perf_counter()
        for seed in range(args.seeds):
            splits = data(seed, task)
            best = max(
                (train(spec, lr, steps, seed, splits, task) for lr in lrs),
                key=lambda model: r2(model, *splits["validation"])[1],
            )
            scores.append(r2(best, *splits["test"]))
        fitted[name] = (best, scores[-1][1])
        mse = sum(s[0] for s in scores) / len(scores)
        score = sum(s[1] for s in scores) / len(scores)
        spread = max(s[1] for s in scores) - min(s[1] for s in scores)
        params = sum(p.numel() for p in best.parameters())
        seconds = time.perf_counter() - start
        rows.append((name, params, mse, score, spread, seconds))
        print(f"{name:12s} params {params:4d}  MSE {mse:.5f}  R² {100 * score:6.2f} (range {100 * spread:.2f})"
              f"  ({seconds:.0f} s)", flush=True)  # fmt: skip
    table = ["| activation | parameters | test MSE | test R² (%) | R² range over seeds |", "|---|---:|---:|---:|---:|"]
    table += [
        f"| {n} | {p} | {m:.5f} | {100 * s:.2f} | {100 * d:.2f} |"
        for n, p, m, s, d, _ in sorted(rows, key=lambda r: -r[3])
    ]
    print("\n" + "\n".join(table))
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write("\n".join(table) + "\n")
    if args.plot:
        plot(args.plot, task, fitted)
    assert all(math.isfinite(r[3]) for r in rows)


if __name__ == "__main__":
    main()
