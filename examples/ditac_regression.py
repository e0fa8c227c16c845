"""DiTAC's toy regressions (supplement §A.2) on CPU: fit an MLP once per activation and report
test MSE and R².

- ``--task 1d`` (Table 8): ``0.4 sin(19x) + 0.2 sin(23x) + 0.3 sin(29x) + 0.1 sin(31x)`` on
  [-1, 1], MLP 1→64→1, 1,000 random test points.
- ``--task 2d`` (paper Table 2, supplement eq. 1–2): ``0.4 sin(9xy) + 0.1 sin(−9x + 11y) +
  0.15 sin(3x + 13y) + 0.15 sin(9x + 9y) + 0.1 sin(13x + 5y) + 0.1 sin(3x + 19y)`` on [-1, 1]²,
  MLP 2→50→1, tested on a held-out 64 × 64 grid; ``--task 2d-variants`` (Table 9) runs DiTAC,
  GE-DiTAC, L-DiTAC and inf-DiTAC on it.
- ``--task auto-mpg`` (Table 7): horsepower from MPG on Auto-MPG (vega_datasets' cars.json),
  MLP 1→100→100→1, random 60/20/20 split per seed, standardised with the training split;
  ``auto-mpg-mpg`` predicts MPG from horsepower instead.

    python examples/ditac_regression.py [--task 1d|2d|2d-variants|auto-mpg|auto-mpg-mpg] [--steps N]
        [--seeds 1] [--activations ditac,relu,...] [--lrs 1e-3,1e-2] [--markdown table.md]
        [--plot docs/images/fit.png]

Every activation is an actlang expression compiled with ``actlang.compile``; DiTAC is
``ditac`` (a = −3, b = 3, 10 cells, one θ per layer, as in the paper's regression example), the
variants use their defaults. Adam, batch 98, no weight decay; each activation takes the best of a
few learning rates on the validation split (the supplement does the same), and the table reports
test MSE and R² beside the supplement's.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
import warnings
from collections.abc import Callable

import torch
from ditac_data import TASKS, Splits, Task, data, grid_2d
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
# Not in the default list: the other DiTAC variants (Table 9) and Swish with a learned β, the
# one-parameter Swish that the supplement's 194-parameter count for "Swish" in Table 8 points to.
EXTRA = {
    "ge_ditac": "ge_ditac(x)",
    "l_ditac": "l_ditac(x)",
    "inf_ditac": "inf_ditac(x)",
    "swish_beta": "x * sigmoid(beta * x) where beta = 1",
}
VARIANTS = ("ditac", "ge_ditac", "l_ditac", "inf_ditac")

# The supplement's (MSE, R² %) per task and activation (None: not given), shown beside the runs.
SUPPLEMENT: dict[str, dict[str, tuple[float | None, float]]] = {
    "1d": {"ditac": (0.001, 99.3), "silu": (0.004, 97.5), "leaky_relu": (0.008, 94.7), "relu": (0.010, 93.3),
           "prelu": (0.010, 93.1), "gelu": (0.111, 9.7), "mish": (0.113, 5.5), "softplus": (0.114, 5.2),
           "elu": (0.116, 3.6)},
    "2d": {"ditac": (None, 98.37), "prelu": (None, 96.09)},
    "2d-variants": {"ditac": (0.004, 98.4), "ge_ditac": (0.001, 99.4), "l_ditac": (0.006, 98.7),
                    "inf_ditac": (0.004, 97.6)},
    "auto-mpg": {"ditac": (389.6, 73.2), "leaky_relu": (404.3, 72.2), "elu": (404.3, 72.2), "silu": (405.8, 72.1),
                 "prelu": (406.3, 72.0), "relu": (409.0, 71.8), "softplus": (410.0, 71.8), "mish": (410.9, 71.7),
                 "gelu": (412.2, 71.6)},
}
# Per option of --task: the data, default steps, learning rates and activations.
DEFAULTS = {
    "1d": ("1d", 15000, "1e-3,3e-3,1e-2", tuple(ACTIVATIONS)),
    "2d": ("2d", 5000, "3e-3,1e-2", tuple(ACTIVATIONS)),
    "2d-variants": ("2d", 5000, "3e-3,1e-2", VARIANTS),
    "auto-mpg": ("auto-mpg", 2000, "1e-3,3e-3,1e-2", tuple(ACTIVATIONS)),
    "auto-mpg-mpg": ("auto-mpg-mpg", 2000, "1e-3,3e-3,1e-2", tuple(ACTIVATIONS)),
}


class Affine(nn.Module):
    """x·scale + shift with fixed (non-learned) scale and shift: standardisation layers."""

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, x, self.scale)


def r2(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(MSE, R²) with R² = 1 − MSE / Var(y) (population variance, as sklearn's r2_score)."""
    with torch.no_grad():
        mse = (model(x) - y).pow(2).mean().item()
    return mse, 1.0 - mse / y.var(unbiased=False).item()


def build(spec: str, task: Task, splits: Splits) -> nn.Sequential:
    """The MLP inputs → hidden… → 1 with one compiled ``spec`` (its own learned parameters) after
    each hidden layer; for a ``standardize`` task, framed by fixed layers that standardise the
    input and undo it on the output with the training split's mean and standard deviation."""
    widths = (task.inputs, *task.hidden)
    layers: list[nn.Module] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for fan_in, fan_out in itertools.pairwise(widths):
            layers += [nn.Linear(fan_in, fan_out), actlang.compile(spec)]
    layers.append(nn.Linear(widths[-1], 1))
    if task.standardize:
        x, y = splits["train"]
        layers = [Affine(1 / x.std(0), -x.mean(0) / x.std(0)), *layers, Affine(y.std(0), y.mean(0))]
    return nn.Sequential(*layers)


def train(spec: str, lr: float, steps: int, seed: int, splits: Splits, task: Task = TASKS["1d"]) -> nn.Module:
    """``build``'s MLP trained with Adam (batch 98, drawn with replacement) for ``steps`` on the
    MSE in the data's own units."""
    torch.manual_seed(seed)
    model = build(spec, task, splits)
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


def plot(path: str, task: Task, models: dict[str, tuple[nn.Module, float]], splits: Splits) -> None:
    """Target (or the test data) vs DiTAC vs the best other activation by test R²: curves for
    one input, images for two. Uses matplotlib's Agg canvas directly (no pyplot global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    others = [name for name in models if name != "ditac"]
    rival = max(others, key=lambda name: models[name][1]) if others else None
    shown = [(name, *models[name]) for name in ("ditac", rival) if name in models]
    if task.inputs == 1:
        figure = Figure(figsize=(8, 3.2), layout="constrained")
        axes = figure.add_subplot()
        if task.target is not None:
            x = torch.linspace(-1, 1, 1001)[:, None]
            axes.plot(x[:, 0], task.target(x)[:, 0], color="black", linewidth=2.2, label="target")
        else:
            x_test, y_test = splits["test"]
            x = torch.linspace(min(v[0].min().item() for v in splits.values()),
                               max(v[0].max().item() for v in splits.values()), 1001)[:, None]
            axes.scatter(x_test[:, 0], y_test[:, 0], s=9, color="black", label="test data")
        for (name, model, score), color in zip(shown, ("#e15759", "#4e79a7"), strict=False):
            with torch.no_grad():
                axes.plot(x[:, 0], model(x)[:, 0], color=color, linewidth=1.1,
                          label=f"{name} (test R² {100 * score:.1f} %)")
        labels = task.columns or ("x", "y")
        axes.set(xlabel=labels[0], ylabel=labels[1], xlim=(x.min().item(), x.max().item()))
        axes.legend(loc="lower left" if task.target is not None else "upper right", fontsize=8)
    else:
        figure = _images(task, shown)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=110, metadata={"Software": None} if path.endswith(".png") else None)


def _images(task: Task, shown: list[tuple[str, nn.Module, float]]):  # -> matplotlib Figure
    """Target and predictions of a 2-D task as images on a 201 × 201 grid with one colour scale."""
    from matplotlib.figure import Figure

    assert task.target is not None
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
                            vmin=low, vmax=high, cmap="viridis")
        axes.set(title=title, xlabel="x", ylabel="y" if i == 0 else None)
    figure.colorbar(image, ax=figure.axes, shrink=0.8)
    return figure


def run(name: str, task: Task, steps: int, seeds: int, lrs: list[float]) -> tuple[list, nn.Module, Splits]:
    """Per seed, the best of ``lrs`` on the validation split: its (MSE, R², lr) on the test split
    and every learning rate's test R²; also the last seed's model and splits (for the plot)."""
    spec = ACTIVATIONS.get(name) or EXTRA.get(name) or name
    scores = []
    for seed in range(seeds):
        splits = data(seed, task)
        fits = [(train(spec, lr, steps, seed, splits, task), lr) for lr in lrs]
        best, lr = max(fits, key=lambda fit: r2(fit[0], *splits["validation"])[1])
        scores.append((*r2(best, *splits["test"]), lr, [r2(model, *splits["test"])[1] for model, _ in fits]))
    return scores, best, splits


def table(rows: list[tuple], reference: dict[str, tuple[float | None, float]]) -> list[str]:
    """Markdown rows sorted by mean test R², with the supplement's figures beside them."""
    out = ["| activation | parameters | test MSE | test R² (%) | R² range over seeds | supplement MSE / R² (%) |",
           "|---|---:|---:|---:|---:|---:|"]
    for name, params, mse, score, spread, _ in sorted(rows, key=lambda r: -r[3]):
        known = reference.get(name)
        paper = "" if known is None else f"{'–' if known[0] is None else f'{known[0]:g}'} / {known[1]:g}"
        out.append(f"| {name} | {params} | {mse:.5g} | {100 * score:.2f} | {100 * spread:.2f} | {paper} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(DEFAULTS), default="1d")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps (default 15000 for 1d, 2000 for auto-mpg, "
                        "else 5000)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--activations", default=None, help="names (see ACTIVATIONS, EXTRA), comma-separated")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lrs", default=None, help="learning rates to pick from (default 3e-3,1e-2 for 2d tasks, "
                        "else 1e-3,3e-3,1e-2)")
    parser.add_argument("--markdown", help="also write the results table to this file")
    parser.add_argument("--plot", help="save the fits of DiTAC and the best other activation (last seed) as PNG/SVG")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task_name, default_steps, default_lrs, default_names = DEFAULTS[args.task]
    task, steps = TASKS[task_name], args.steps or default_steps
    lrs = [float(lr) for lr in (args.lrs or default_lrs).split(",")]
    rows, fitted = [], {}
    for name in args.activations.split(",") if args.activations else default_names:
        start = time.perf_counter()
        scores, best, splits = run(name, task, steps, args.seeds, lrs)
        fitted[name] = (best, scores[-1][1])
        mse = sum(s[0] for s in scores) / len(scores)
        score = sum(s[1] for s in scores) / len(scores)
        spread = max(s[1] for s in scores) - min(s[1] for s in scores)
        params = sum(p.numel() for p in best.parameters())
        seconds = time.perf_counter() - start
        rows.append((name, params, mse, score, spread, seconds))
        print(f"{name:12s} params {params:5d}  MSE {mse:.5g}  R² {100 * score:6.2f} (range {100 * spread:.2f})"
              f"  ({seconds:.0f} s)", flush=True)
        for seed, (*_, lr, every) in enumerate(scores):  # each learning rate's test R², * = picked
            cells = ", ".join(f"{rate:g}{'*' if rate == lr else ''} {100 * value:.2f}"
                              for rate, value in zip(lrs, every, strict=True))
            print(f"    seed {seed}: test R² (%) per lr: {cells}", flush=True)
    lines = table(rows, SUPPLEMENT.get(args.task, {}))
    print("\n" + "\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write("\n".join(lines) + "\n")
    if args.plot:
        plot(args.plot, task, fitted, splits)
    assert all(math.isfinite(r[3]) for r in rows)


if __name__ == "__main__":
    main()
