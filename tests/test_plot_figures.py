"""What a reader sees in ``actlang plot`` figures: several expressions on one figure, labels and
titles, one x-range per row, poles that do not set the y-range, per-channel and whole-model state
dicts, and ``ash`` drawn on a feature map. The checks read the matplotlib Figure (axes, lines,
legend entries, limits) and the files written, not pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import actlang
from actlang.cli import main
from actlang.errors import ActlangError
from actlang.plot import make_figure, plot, plot_curves, plot_data
from actlang.plot.data import SAMPLE, describe
from actlang.plot.poles import broken_at, find_poles, near_poles


def curves_of(ax) -> list:
    """The data lines of a panel (not the identity or zero guides)."""
    return [line for line in ax.get_lines() if not line.get_label().startswith("_") and line.get_label() != "identity"]


# --- several expressions -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three():
    curves = plot_curves(["relu(x)", "gelu(x)", "ditac[cells=4](x)"], points=201, prior=True, seed=1)
    return curves, make_figure(curves)


def test_three_expressions_share_the_top_row(three) -> None:
    _, figure = three
    axes = figure.axes
    assert len(axes) == 4  # f, f′, and one CPAB row for ditac_0
    for ax in axes[:2]:
        assert len(curves_of(ax)) == 3
        assert ax.get_xlim() == (-5.0, 5.0)
    colors = [line.get_color() for line in curves_of(axes[0])]
    assert len(set(colors)) == 3 and colors == [line.get_color() for line in curves_of(axes[1])]


def test_numbered_legend_with_the_values_and_the_derivative_method(three) -> None:
    _, figure = three
    (legend,) = figure.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[0] == "(1) relu(x)  [f′ by symbolic]"
    assert texts[1] == "(2) gelu(x)  [f′ by symbolic]"
    assert texts[2].startswith("(3) ditac[cells=4, init=prior](x)  (ditac_0.theta: 3 values in [")
    assert texts[2].endswith("[f′ by autograd]")
    assert figure.get_suptitle() == "relu(x), gelu(x), ditac[cells=4, init=prior](x)"


def test_axis_labels_and_titles(three) -> None:
    _, figure = three
    f_ax, d_ax, v_ax, t_ax = figure.axes
    assert (f_ax.get_xlabel(), f_ax.get_ylabel()) == ("x (pre-activation)", "f(x) (activation)")
    assert (d_ax.get_xlabel(), d_ax.get_ylabel()) == ("x (pre-activation)", "f′(x) = df/dx")
    assert d_ax.get_title() == "f′(x), symbolic where it exists, else autograd"
    for ax in (v_ax, t_ax):  # the CPAB row has its own x-range, and says so
        assert ax.get_xlabel() == "x on the CPAB domain [a, b] = [-3, 3]"
        assert ax.get_xlim() == (-3.0, 3.0)
    assert v_ax.get_title() == "velocity field of ditac_0, curve (3)"
    assert t_ax.get_title() == "warp of ditac_0, curve (3)"
    assert [line.get_label() for line in t_ax.get_lines()] == ["identity", "$T^\\theta$"]


def test_one_expression_is_titled_with_its_values(tmp_path) -> None:
    curves = plot_curves(["x * sigmoid(beta * x)"], params={"beta": 2.0}, points=51)
    figure = make_figure(curves)
    assert figure.get_suptitle() == "x * sigmoid(beta * x) where beta = 2"
    assert figure.legends == []  # the title says it; no legend repeats it
    assert figure.axes[1].get_title() == "f′(x), symbolic derivative"
    long = plot_curves([" + ".join(f"{k} * tanh(x)" for k in range(1, 30))], points=11)
    title = make_figure(long).get_suptitle()
    assert "…" not in title and title.replace("\n", " ") == long[0].label  # wrapped, never cut


def test_a_param_applies_to_every_expression_that_has_it() -> None:
    curves = plot_curves(["x * sigmoid(beta * x)", "relu(x)", "beta * tanh(x)"], params={"beta": 3.0}, points=11)
    assert [dict(c.params) for c in curves] == [{"beta": 3.0}, {}, {"beta": 3.0}]
    with pytest.raises(ActlangError, match="unknown parameter 'gamma'; the expressions' parameters: beta"):
        plot_curves(["x * beta", "relu(x)"], params={"gamma": 1.0}, points=11)
    with pytest.raises(ActlangError, match="nothing to plot"):
        plot_curves([], points=11)


def test_labels_write_every_value_out() -> None:
    expr = actlang.parse("x * sigmoid(beta * x) + gamma * prelu(x) where gamma = 0.5")
    values = {"beta": np.array(1.0), "gamma": np.array(0.5), "prelu_0.a": np.array(0.25)}
    assert describe(expr, values) == "x * sigmoid(beta * x) + gamma * prelu(x) where beta = 1, gamma = 0.5  " \
                                     "(prelu_0.a = 0.25)"
    theta = {"ditac_0.theta": np.array([0.0, 0.5, -1.0])}
    assert describe(actlang.parse("ditac[cells=4](x)"), theta).endswith("(ditac_0.theta: 3 values in [-1, 0.5])")
    assert describe(actlang.parse("ditac[cells=4](x)"), {"ditac_0.theta": np.zeros(3)}).endswith("(ditac_0.theta = 0)")


def test_cli_writes_one_file_for_several_expressions(capsys, tmp_path) -> None:
    out = tmp_path / "three.svg"
    code = main(["plot", "relu(x)", "gelu(x)", "x * sigmoid(beta * x)", "--param", "beta=2", "--points", "51",
                 "-o", str(out), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and out.read_bytes().startswith(b"<?xml")
    assert [c["label"] for c in summary["curves"]] == ["relu(x)", "gelu(x)", "x * sigmoid(beta * x) where beta = 2"]
    assert [p.name for p in tmp_path.iterdir()] == ["three.svg"]
    assert plot(["relu(x)", "elu(x)"], tmp_path / "two.png", points=11)[1].expression == "elu(x)"


# --- poles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("pole", [-2.345, -0.5, 0.0, 1.0, 3.21])
def test_poles_are_found_within_a_grid_step(pole: float) -> None:
    data = plot_data(f"1 / (x - {pole}) + x" if pole >= 0 else f"1 / (x + {-pole}) + x", points=1001)
    step = 10 / 1000
    assert len(data.poles) == 1 and abs(data.poles[0] - pole) <= step
    assert len(data.slope_poles) == 1 and abs(data.slope_poles[0] - pole) <= step


@pytest.mark.parametrize(
    "expr",
    ["gelu(x)", "sin(3 * x) * x^2", "100 * sigmoid(100 * x) * sigmoid(-100 * x)", "log(x)", "tanh(x) / x",
     "ditac[cells=8, init=prior](x)", "exp(x)"],
)
def test_smooth_curves_and_spikes_have_no_poles(expr: str) -> None:
    data = plot_data(expr, points=1001, seed=3)
    assert data.poles == ()


def test_the_y_range_leaves_a_pole_out_and_keeps_a_spike() -> None:
    pole = make_figure([plot_data("1 / x", points=1001)])
    low, high = pole.axes[0].get_ylim()
    assert -10 < low < -4 and 4 < high < 10  # |1/x| <= 5 outside 0.2 of the pole
    spike = make_figure([plot_data("100 * sigmoid(100 * x) * sigmoid(-100 * x)", points=1001)])
    assert spike.axes[0].get_ylim()[1] > 25 and spike.axes[1].get_ylim()[1] > 800  # its f′ too


def test_a_pole_does_not_flatten_the_other_curves() -> None:
    # 1/(1-x)² is 25 at the edge of the pole's neighbourhood; gelu′ spans [-0.13, 1.13].
    figure = make_figure([plot_data("gelu(x)", points=401), plot_data("x / (1 - x)", points=401)])
    low, high = figure.axes[1].get_ylim()
    assert 1.13 < high < 6 and -1 < low < -0.13
    alone = make_figure([plot_data("gelu(x)", points=401)]).axes[1].get_ylim()
    assert alone[1] < high  # the pole's branch still rises out of the panel


def test_no_line_joins_the_two_sides_of_a_pole() -> None:
    figure = make_figure([plot_data("1 / (x - 0.3)", points=101)])
    (line,) = curves_of(figure.axes[0])
    xs, ys = line.get_xdata(), line.get_ydata()
    gap = np.flatnonzero(np.isnan(ys))
    assert len(gap) == 1 and xs[gap[0] - 1] < 0.3 < xs[gap[0] + 1]
    assert np.all(ys[: gap[0]] < 0) and np.all(ys[gap[0] + 1 :] > 0)


def test_pole_helpers() -> None:
    xs = np.linspace(-1, 1, 5)
    assert find_poles(lambda t: t, xs, xs) == ()
    np.testing.assert_array_equal(near_poles(xs, (0.02,)), [False, False, True, False, False])
    broken_x, broken_y = broken_at(xs, xs, (0.25,))
    assert len(broken_x) == 6 and np.isnan(broken_y[3]) and broken_x[3] == 0.5
    assert broken_at(xs, xs, ())[0].tolist() == xs.tolist()


# --- state dicts: per channel, and a whole model's -----------------------------------------------


@pytest.fixture(scope="module")
def model_state(tmp_path_factory):
    act = actlang.compile("x * sigmoid(beta * x) + 0.1 * prelu(x)", channels=4)
    with torch.no_grad():
        act.beta.copy_(torch.tensor([0.5, 1.0, 2.0, 4.0]))
        act.prelu_0.a.copy_(torch.tensor([0.0, 1.0, 2.0, 3.0]))
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.Linear(4, 4), act))
    path = tmp_path_factory.mktemp("state") / "model.pt"
    torch.save(model.state_dict(), path)
    return path


EXPR = "x * sigmoid(beta * x) + 0.1 * prelu(x)"


def test_per_channel_parameters_give_one_curve_each(model_state) -> None:
    curves = plot_curves([EXPR], state=model_state, site="1.1", points=21)
    assert [c.channel for c in curves] == [0, 1, 2, 3]
    assert [float(c.params["beta"]) for c in curves] == [0.5, 1.0, 2.0, 4.0]
    assert [float(c.params["prelu_0.a"]) for c in curves] == [0.0, 1.0, 2.0, 3.0]
    for c in curves:  # each channel is the scalar activation at that channel's values
        np.testing.assert_array_equal(c.values, actlang.evaluate(EXPR, c.xs, c.params))
    texts = [t.get_text() for t in make_figure(curves).legends[0].get_texts()]
    assert texts[3] == "(4) channel 3: x * sigmoid(beta * x) + 0.1 * prelu(x) where beta = 4  (prelu_0.a = 3)"
    picked = plot_curves([EXPR], state=model_state, site="1.1", channels=[2], points=21)
    assert [(c.channel, float(c.params["beta"])) for c in picked] == [(2, 2.0)]


def test_cli_per_channel_and_site(capsys, tmp_path, model_state) -> None:
    out = tmp_path / "layer.png"
    code = main(["plot", EXPR, "--state", str(model_state), "--site", "1.1", "--channel", "3", "--channel", "0",
                 "--points", "21", "-o", str(out)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and out.exists() and lines[0] == f"wrote {out} (2 curves)"
    assert lines[1].startswith("  channel 3: ") and "beta = 4" in lines[1]
    assert lines[2].startswith("  channel 0: ") and "beta = 0.5" in lines[2]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "the state dict is a model's: name the activation with --site (site=), one of 1.1"),
        ({"site": "layer3.act"}, "the state dict has nothing at 'layer3.act'; sites with this activation's "
         "parameters: 1.1"),
        ({"site": "1.1", "channels": [7]}, "channel 7 is out of range: the state dict holds 4"),
        ({"site": "1.1", "max_channels": 2}, "holds 4 channels; pick at most 2 with --channel"),
    ],
)
def test_state_dict_mistakes_are_explained(model_state, options, message) -> None:
    with pytest.raises(ActlangError) as error:
        plot_curves([EXPR], state=model_state, points=11, **options)
    assert message in str(error.value)


def test_a_state_that_fits_no_channel_layout_is_an_error() -> None:
    state = {"beta": torch.ones(3), "prelu_0.a": torch.ones(2)}
    with pytest.raises(ActlangError, match="neither one value per parameter nor the same channels"):
        plot_data(EXPR, state=state, points=11)
    with pytest.raises(ActlangError, match="the state dict holds 3 channels; pick one"):
        plot_data(EXPR, state={"beta": torch.ones(3), "prelu_0.a": torch.ones(3)}, points=11)


# --- ash on a feature map ------------------------------------------------------------------------


def test_ash_is_drawn_with_each_x_in_a_normal_feature_map() -> None:
    data = plot_data("ash[k=10](x)", points=401, seed=2)
    sample = np.random.default_rng(2).standard_normal(SAMPLE)
    np.testing.assert_array_equal(data.xs, np.linspace(-5, 5, 401))
    assert data.sample.startswith(f"with each x one more input of a feature map of {SAMPLE} inputs drawn from N(0, 1)")
    # Each x in its own row: statistics of sample + x; z = Φ⁻¹(0.9), α = 1.
    rows = np.concatenate([np.broadcast_to(sample, (401, SAMPLE)), data.xs[:, None]], axis=1)
    mu, sigma = rows.mean(axis=1), rows.std(axis=1)
    z = float(data.params["ash_0.z"])
    expected = data.xs / (1 + np.exp(-2 * (data.xs - mu - z * sigma)))
    np.testing.assert_allclose(data.values, expected, rtol=1e-9, atol=1e-12)
    # f′ is the slope of that curve up to the O(1/SAMPLE) shift of the statistics.
    np.testing.assert_allclose(data.slope, np.gradient(data.values, data.xs), atol=0.02)
    assert data.slope_method == "autograd" and data.poles == ()
    again = plot_data("ash[k=10](x)", points=401, seed=3)
    assert not np.array_equal(again.values, data.values)


def test_ash_figure_says_how_it_was_drawn(capsys, tmp_path) -> None:
    figure = make_figure([plot_data("ash[k=10](x)", points=101)])
    assert figure.get_suptitle().splitlines()[1].startswith("f(x) with each x one more input of a feature map")
    code = main(["plot", "ash[k=10](x)", "relu(x)", "--points", "101", "-o", str(tmp_path / "a.png"), "--json"])
    curves = json.loads(capsys.readouterr().out)["curves"]
    assert code == 0 and curves[0]["sample"] and curves[1]["sample"] is None
