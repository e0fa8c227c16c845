"""The DiTAC toy-regression example's data and R² helpers (no training: that is the example's job)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

_PATH = Path(__file__).resolve().parents[1] / "examples" / "ditac_regression.py"
_SPEC = importlib.util.spec_from_file_location("ditac_regression", _PATH)
example = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = example  # dataclasses resolve their module's annotations through sys.modules
_SPEC.loader.exec_module(example)


def test_targets_match_the_supplement_formulas() -> None:
    x, y = 0.3, -0.7
    one = 0.4 * math.sin(19 * x) + 0.2 * math.sin(23 * x) + 0.3 * math.sin(29 * x) + 0.1 * math.sin(31 * x)
    two = 0.4 * math.sin(9 * x * y) + 0.1 * math.sin(-9 * x + 11 * y) + 0.15 * math.sin(3 * x + 13 * y)
    two += 0.15 * math.sin(9 * x + 9 * y) + 0.1 * math.sin(13 * x + 5 * y) + 0.1 * math.sin(3 * x + 19 * y)
    assert example.target_1d(torch.tensor([[x]], dtype=torch.float64)).item() == pytest.approx(one, rel=1e-12)
    assert example.target_2d(torch.tensor([[x, y]], dtype=torch.float64)).item() == pytest.approx(two, rel=1e-12)


def test_grid_covers_the_square_row_major() -> None:
    grid = example.grid_2d(5)
    assert grid.shape == (25, 2)
    assert grid[0].tolist() == [-1.0, -1.0] and grid[-1].tolist() == [1.0, 1.0]
    assert grid[1].tolist() == [-0.5, -1.0]  # x varies fastest, so reshape(side, side) is an image with rows = y
    assert len({tuple(p) for p in grid.tolist()}) == 25


@pytest.mark.parametrize("name", ["1d", "2d"])
def test_splits_shapes_targets_and_determinism(name: str) -> None:
    task = example.TASKS[name]
    splits = example.data(0, task)
    test_count = task.test**2 if task.test_grid else task.test
    for split, count in (("train", task.train), ("validation", task.validation), ("test", test_count)):
        x, y = splits[split]
        assert x.shape == (count, task.inputs) and y.shape == (count, 1)
        assert x.abs().max() <= 1 and torch.equal(y, task.target(x))
    assert torch.equal(splits["train"][0], example.data(0, task)["train"][0])
    assert not torch.equal(splits["train"][0], example.data(1, task)["train"][0])
    # held out: no test point is also a training point
    train_points = {tuple(p) for p in splits["train"][0].tolist()}
    assert not any(tuple(p) in train_points for p in splits["test"][0].tolist())


def test_r2_is_one_for_the_target_zero_for_the_mean_and_exact_in_between() -> None:
    task = example.TASKS["2d"]
    x, y = example.data(0, task)["test"]
    assert example.r2(task.target, x, y) == (0.0, 1.0)
    mse, score = example.r2(lambda inputs: torch.full((len(inputs), 1), y.mean().item()), x, y)
    assert score == pytest.approx(0.0, abs=1e-6) and mse == pytest.approx(y.var(unbiased=False).item(), rel=1e-6)
    mse, score = example.r2(lambda inputs: task.target(inputs) * 0.5, x, y)
    assert score == pytest.approx(1 - 0.25 * (y.pow(2).mean() / y.var(unbiased=False)).item(), rel=1e-5)


def test_an_untrained_model_has_the_task_shape() -> None:
    task = example.TASKS["2d"]
    model = example.train("relu(x)", 1e-2, 0, 0, example.data(0, task), task)
    assert [p.shape[-1] for p in model.parameters() if p.dim() == 2] == [2, 50]
    assert sum(p.numel() for p in model.parameters()) == 2 * 50 + 50 + 50 + 1
