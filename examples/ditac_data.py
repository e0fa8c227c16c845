"""Data of DiTAC's toy regressions (supplement §A.2): the synthetic sums of sines and Auto-MPG.

Used by ``examples/ditac_regression.py`` (which trains) and by ``tests/test_ditac_regression.py``
(which checks the data without training).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

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
    """One regression problem: input dimension, hidden widths, data, split sizes, test design.

    Synthetic tasks sample ``target`` at uniform random points of [-1, 1]^inputs; a task with
    ``columns = (input, output)`` reads those columns of Auto-MPG instead, and its model
    standardises input and output with the training split's statistics (``standardize``)."""

    inputs: int
    hidden: tuple[int, ...]
    target: Callable[[torch.Tensor], torch.Tensor] | None
    train: int
    validation: int
    test: int  # random test points, or the side of the held-out test grid when ``test_grid``
    test_grid: bool = False
    columns: tuple[str, str] | None = None
    standardize: bool = False


# Auto-MPG: the 392 cars of vega_datasets' cars.json with both values, split 60/20/20 at random.
CARS_ROWS = 392
TASKS = {
    "1d": Task(inputs=1, hidden=(64,), target=target_1d, train=2000, validation=500, test=1000),
    "2d": Task(inputs=2, hidden=(50,), target=target_2d, train=5000, validation=1000, test=64, test_grid=True),
    # The supplement's MSEs (≈ 400 at R² ≈ 72 %) imply Var(target) ≈ 1450: horsepower (variance
    # 1478 here), not MPG (61). So horsepower is predicted from MPG; ``auto-mpg-mpg`` is the reverse.
    "auto-mpg": Task(inputs=1, hidden=(100, 100), target=None, train=235, validation=78, test=79,
                     columns=("Miles_per_Gallon", "Horsepower"), standardize=True),
    "auto-mpg-mpg": Task(inputs=1, hidden=(100, 100), target=None, train=235, validation=78, test=79,
                         columns=("Horsepower", "Miles_per_Gallon"), standardize=True),
}


def cars_json() -> Path:
    """Path of vega_datasets' offline cars.json, found without importing the package (and pandas)."""
    spec = importlib.util.find_spec("vega_datasets")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the auto-mpg task needs vega_datasets: pip install 'actlang[examples]'")
    return Path(next(iter(spec.submodule_search_locations))) / "_data" / "cars.json"


def cars(columns: tuple[str, str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The (input, output) columns of Auto-MPG as float32 [N, 1] tensors, in file order; rows with
    either value missing (``null``: six cars lack horsepower, eight lack MPG) are dropped."""
    rows = json.loads(cars_json().read_text())
    pairs = [(row[columns[0]], row[columns[1]]) for row in rows]
    kept = torch.tensor([pair for pair in pairs if None not in pair], dtype=torch.float32)
    return kept[:, :1], kept[:, 1:]


def cars_splits(seed: int, task: Task) -> Splits:
    """A seeded random permutation of the rows cut into train, validation and test (raw units)."""
    assert task.columns is not None
    x, y = cars(task.columns)
    if len(x) != task.train + task.validation + task.test:
        raise SystemExit(f"cars.json has {len(x)} complete rows, the task expects {CARS_ROWS}: not vega_datasets 0.9?")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    cuts = {"train": order[: task.train], "validation": order[task.train : task.train + task.validation]}
    cuts["test"] = order[task.train + task.validation :]
    return {name: (x[rows], y[rows]) for name, rows in cuts.items()}


def data(seed: int, task: Task = TASKS["1d"]) -> Splits:
    """The task's splits. Synthetic: uniform random points of [-1, 1]^inputs for training and
    validation; the test split is more random points or the regular grid (its points differ from
    the random ones almost surely). Auto-MPG: ``cars_splits``."""
    if task.columns is not None:
        return cars_splits(seed, task)
    assert task.target is not None
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
