"""The DiTAC toy-regression example's data and R² helpers (no training: that is the example's job)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

import actlang

_EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(_EXAMPLES))  # the example imports its data module, examples/ditac_data.py, as a script does
_SPEC = importlib.util.spec_from_file_location("ditac_regression", _EXAMPLES / "ditac_regression.py")
example = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = example  # dataclasses resolve their module's annotations through sys.modules
_SPEC.loader.exec_module(example)
import ditac_data  # noqa: E402  (needs the path above)


def test_targets_match_the_supplement_formulas() -> None:
    x, y = 0.3, -0.7
    one = 0.4 * math.sin(19 * x) + 0.2 * math.sin(23 * x) + 0.3 * math.sin(29 * x) + 0.1 * math.sin(31 * x)
    two = 0.4 * math.sin(9 * x * y) + 0.1 * math.sin(-9 * x + 11 * y) + 0.15 * math.sin(3 * x + 13 * y)
    two += 0.15 * math.sin(9 * x + 9 * y) + 0.1 * math.sin(13 * x + 5 * y) + 0.1 * math.sin(3 * x + 19 * y)
    assert ditac_data.target_1d(torch.tensor([[x]], dtype=torch.float64)).item() == pytest.approx(one, rel=1e-12)
    assert ditac_data.target_2d(torch.tensor([[x, y]], dtype=torch.float64)).item() == pytest.approx(two, rel=1e-12)


def test_grid_covers_the_square_row_major() -> None:
    grid = ditac_data.grid_2d(5)
    assert grid.shape == (25, 2)
    assert grid[0].tolist() == [-1.0, -1.0] and grid[-1].tolist() == [1.0, 1.0]
    assert grid[1].tolist() == [-0.5, -1.0]  # x varies fastest, so reshape(side, side) is an image with rows = y
    assert len({tuple(p) for p in grid.tolist()}) == 25


@pytest.mark.parametrize("name", ["1d", "2d"])
def test_splits_shapes_targets_and_determinism(name: str) -> None:
    task = ditac_data.TASKS[name]
    splits = ditac_data.data(0, task)
    test_count = task.test**2 if task.test_grid else task.test
    for split, count in (("train", task.train), ("validation", task.validation), ("test", test_count)):
        x, y = splits[split]
        assert x.shape == (count, task.inputs) and y.shape == (count, 1)
        assert x.abs().max() <= 1 and torch.equal(y, task.target(x))
    assert torch.equal(splits["train"][0], ditac_data.data(0, task)["train"][0])
    assert not torch.equal(splits["train"][0], ditac_data.data(1, task)["train"][0])
    # held out: no test point is also a training point
    train_points = {tuple(p) for p in splits["train"][0].tolist()}
    assert not any(tuple(p) in train_points for p in splits["test"][0].tolist())


def test_r2_is_one_for_the_target_zero_for_the_mean_and_exact_in_between() -> None:
    task = ditac_data.TASKS["2d"]
    x, y = ditac_data.data(0, task)["test"]
    assert example.r2(task.target, x, y) == (0.0, 1.0)
    mse, score = example.r2(lambda inputs: torch.full((len(inputs), 1), y.mean().item()), x, y)
    assert score == pytest.approx(0.0, abs=1e-6) and mse == pytest.approx(y.var(unbiased=False).item(), rel=1e-6)
    mse, score = example.r2(lambda inputs: task.target(inputs) * 0.5, x, y)
    assert score == pytest.approx(1 - 0.25 * (y.pow(2).mean() / y.var(unbiased=False)).item(), rel=1e-5)


def test_an_untrained_model_has_the_task_shape() -> None:
    task = ditac_data.TASKS["2d"]
    model = example.train("relu(x)", 1e-2, 0, 0, ditac_data.data(0, task), task)
    assert [p.shape[-1] for p in model.parameters() if p.dim() == 2] == [2, 50]
    assert sum(p.numel() for p in model.parameters()) == 2 * 50 + 50 + 50 + 1


needs_cars = pytest.mark.skipif(
    importlib.util.find_spec("vega_datasets") is None, reason="vega_datasets (extra 'examples') is not installed"
)


@needs_cars
def test_cars_keeps_the_392_complete_rows_with_the_right_columns() -> None:
    mpg, horsepower = ditac_data.cars(("Miles_per_Gallon", "Horsepower"))
    assert mpg.shape == horsepower.shape == (ditac_data.CARS_ROWS, 1)
    # The 392-car Auto data set (ISLR's `Auto`): mean MPG 23.446, mean horsepower 104.469.
    assert mpg.mean().item() == pytest.approx(23.4459, abs=1e-3)
    assert horsepower.mean().item() == pytest.approx(104.4694, abs=1e-3)
    assert (mpg.min().item(), mpg.max().item()) == pytest.approx((9.0, 46.6))
    assert (horsepower.min().item(), horsepower.max().item()) == (46.0, 230.0)
    # file order, pairs aligned: the first car is the 1970 Chevrolet Chevelle Malibu (18 MPG, 130 hp)
    assert (mpg[0].item(), horsepower[0].item()) == (18.0, 130.0)
    swapped = ditac_data.cars(("Horsepower", "Miles_per_Gallon"))
    assert torch.equal(swapped[0], horsepower) and torch.equal(swapped[1], mpg)


@needs_cars
@pytest.mark.parametrize("name", ["auto-mpg", "auto-mpg-mpg"])
def test_cars_splits_partition_the_rows_per_seed(name: str) -> None:
    task = ditac_data.TASKS[name]
    everything = ditac_data.cars(task.columns)
    pairs = sorted(zip(everything[0][:, 0].tolist(), everything[1][:, 0].tolist(), strict=True))
    splits = ditac_data.data(3, task)
    sizes = {split: len(x) for split, (x, _) in splits.items()}
    assert sizes == {"train": 235, "validation": 78, "test": 79}
    # together the three splits are the data set, each (input, output) pair intact
    seen = sorted(p for x, y in splits.values() for p in zip(x[:, 0].tolist(), y[:, 0].tolist(), strict=True))
    assert seen == pairs
    assert torch.equal(splits["test"][0], ditac_data.data(3, task)["test"][0])
    assert not torch.equal(splits["test"][0], ditac_data.data(4, task)["test"][0])


@needs_cars
def test_the_supplement_auto_mpg_figures_imply_horsepower_as_target() -> None:
    """MSE / (1 − R²) is the test variance of the target: the supplement's ≈ 1,450 is
    horsepower's (≈ 1,478 hp²), 24 times MPG's (≈ 61 MPG²)."""
    mpg, horsepower = ditac_data.cars(("Miles_per_Gallon", "Horsepower"))
    assert ditac_data.TASKS["auto-mpg"].columns == ("Miles_per_Gallon", "Horsepower")
    for name, (mse, score) in example.SUPPLEMENT["auto-mpg"].items():
        implied = mse / (1 - score / 100)
        assert implied == pytest.approx(horsepower.var(unbiased=False).item(), rel=0.05), name
        assert implied > 20 * mpg.var(unbiased=False).item()


@needs_cars
def test_auto_mpg_model_standardises_with_the_training_split() -> None:
    task = ditac_data.TASKS["auto-mpg"]
    splits = ditac_data.data(0, task)
    torch.manual_seed(0)
    model = example.build("relu(x)", task, splits)
    x, y = splits["train"]
    standardised = model[0](x)
    assert standardised.mean().item() == pytest.approx(0, abs=1e-5)
    assert standardised.std().item() == pytest.approx(1, rel=1e-5)
    with torch.no_grad():  # a last linear layer that outputs 0 predicts the training mean, in horsepower
        model[-2].weight.zero_()
        model[-2].bias.zero_()
    assert torch.allclose(model(splits["test"][0]), y.mean().expand(79, 1))
    assert sum(p.numel() for p in model.parameters()) == 1 * 100 + 100 + 100 * 100 + 100 + 100 + 1
    assert len([p for p in model.parameters() if p.dim() == 2]) == 3  # two hidden layers of 100


@needs_cars
def test_each_hidden_layer_gets_its_own_ditac() -> None:
    task = ditac_data.TASKS["auto-mpg"]
    model = example.build(example.ACTIVATIONS["ditac"], task, ditac_data.data(0, task))
    thetas = [p for name, p in model.named_parameters() if name.endswith("theta")]
    assert len(thetas) == 2 and thetas[0] is not thetas[1] and all(t.numel() == 9 for t in thetas)


def test_missing_vega_datasets_is_a_clear_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ditac_data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit, match="vega_datasets"):
        ditac_data.data(0, ditac_data.TASKS["auto-mpg"])


def test_task_options_resolve_to_compilable_activations() -> None:
    assert example.DEFAULTS["2d-variants"][0] == "2d"
    assert example.DEFAULTS["2d-variants"][3] == ("ditac", "ge_ditac", "l_ditac", "inf_ditac")
    for option, (task_name, steps, lrs, names) in example.DEFAULTS.items():
        assert task_name in ditac_data.TASKS and steps > 0 and all(float(lr) > 0 for lr in lrs.split(","))
        for name in (*names, *example.SUPPLEMENT.get(option, {})):
            spec = example.ACTIVATIONS.get(name) or example.EXTRA[name]
            assert actlang.compile(spec)(torch.linspace(-4, 4, 9)).isfinite().all(), (option, name)


def test_learned_swish_has_one_parameter_and_starts_as_silu() -> None:
    act = actlang.compile(example.EXTRA["swish_beta"])
    assert [p.numel() for p in act.parameters()] == [1]
    x = torch.linspace(-10, 10, 41)
    assert torch.allclose(act(x), torch.nn.functional.silu(x), atol=1e-6)
    with torch.no_grad():
        next(act.parameters()).fill_(50.0)  # a large β makes it ReLU-like
    assert torch.allclose(act(x), torch.relu(x), atol=1e-6)


def test_table_sorts_by_r2_and_puts_the_supplement_beside() -> None:
    rows = [("relu", 193, 0.02, 0.8, 0.01, 1.0), ("ditac", 202, 0.001, 0.99, 0.0, 2.0), ("odd", 1, 1.0, 0.1, 0.0, 0)]
    lines = example.table(rows, {"ditac": (0.001, 99.3), "relu": (None, 93.3)})
    assert lines[2] == "| ditac | 202 | 0.001 | 99.00 | 0.00 | 0.001 / 99.3 |"
    assert lines[3] == "| relu | 193 | 0.02 | 80.00 | 1.00 | – / 93.3 |"
    assert lines[4].endswith("| 10.00 | 0.00 |  |")
