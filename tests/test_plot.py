"""``actlang plot``: image files, the plotted data against evaluate and finite differences, CPAB
panels, parameter sources (--param, --prior/--seed, --state), gaps, and bad input."""

from __future__ import annotations

import json
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import actlang
from actlang.cli import main
from actlang.plot import PlotUnavailableError, draw, plot_data
from actlang.plot.render import _curve, _runs
from actlang.plot.render import limits as _limits

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def svg_axes(path: Path) -> list[str]:
    """The ids of the axes groups in a matplotlib SVG (parsing it as XML on the way)."""
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return [g.get("id") for g in root.iter() if (g.get("id") or "").startswith("axes_")]


def finite_difference(expr: str, xs: np.ndarray, params: dict, h: float = 1e-6) -> np.ndarray:
    return (actlang.evaluate(expr, xs + h, params) - actlang.evaluate(expr, xs - h, params)) / (2 * h)


# --- files ---------------------------------------------------------------------------------------


def test_png_is_written(capsys, tmp_path) -> None:
    out = tmp_path / "swish.png"
    code, stdout, err = run(capsys, "plot", "x * sigmoid(x)", "-o", str(out), "--points", "201")
    assert (code, err) == (0, "")
    assert stdout == f"wrote {out}\n  x * sigmoid(x); derivative: symbolic\n"
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 300 and height > 100 and width > height  # one row of two panels


def test_svg_has_two_panels_per_row_and_a_row_per_cpab_site(capsys, tmp_path) -> None:
    plain, warped = tmp_path / "plain.svg", tmp_path / "ditac.svg"
    assert run(capsys, "plot", "tanh(x)", "-o", str(plain), "--points", "101")[0] == 0
    code, out, _ = run(capsys, "plot", "ditac[cells=6](x) + l_ditac(x)", "-o", str(warped), "--points", "101")
    assert code == 0 and "v^θ and T^θ of ditac_0, l_ditac_0\n" in out
    assert len(svg_axes(plain)) == 2
    assert len(svg_axes(warped)) == 6


def test_pdf_and_reproducible_svg(tmp_path) -> None:
    data = plot_data("softplus(x)", points=51)
    draw(data, tmp_path / "f.pdf")
    assert (tmp_path / "f.pdf").read_bytes()[:5] == b"%PDF-"
    draw(data, tmp_path / "a.svg")
    draw(data, tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_missing_matplotlib_is_a_clear_error(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    with pytest.raises(PlotUnavailableError, match=r"needs matplotlib: pip install 'actlang\[plot\]'"):
        draw(plot_data("x", points=5), tmp_path / "f.png")
    code, out, err = run(capsys, "plot", "x", "-o", str(tmp_path / "g.png"))
    assert (code, out) == (2, "") and "PlotUnavailableError" in err
    assert not list(tmp_path.iterdir())


# --- the data ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "given", "method"),
    [
        ("x * sigmoid(beta * x) where beta = 1.5", {"beta": 0.7}, "symbolic"),
        ("erfc(softplus(x))^2", {}, "symbolic"),
        ("gelu[approximate=tanh](x) - 0.3 * x^3", {}, "symbolic"),
        ("prelu(x) + 0.5 * tanh(x)", {"prelu_0.a": 0.3}, "autograd"),
        ("ditac[cells=8, exact=true, init=prior](x) + 0.1 * tanh(x)", {}, "autograd"),
        ("inf_ditac[cells=5, exact=true, init=prior](x)", {}, "autograd"),
    ],
)
def test_data_is_evaluate_and_slope_matches_finite_differences(expr, given, method) -> None:
    data = plot_data(expr, lo=-5, hi=5, points=1000, params=given, seed=1)
    assert data.slope_method == method
    assert (data.slope_expression is None) == (method == "autograd")
    for name, value in given.items():
        assert np.all(data.params[name] == value)  # set after the module went to float64
    np.testing.assert_array_equal(data.values, actlang.evaluate(expr, data.xs, data.params))
    # The grid (step 10/999) stays > 1e-3 away from the kinks at 0 and ±3.
    np.testing.assert_allclose(data.slope, finite_difference(expr, data.xs, data.params), rtol=1e-5, atol=1e-6)


def test_lookup_table_slope_is_close_to_the_exact_one() -> None:
    fast = plot_data("ditac[cells=8, init=prior](x)", points=400, seed=2)
    exact = plot_data("ditac[cells=8, init=prior, exact=true](x)", points=400, seed=2)
    np.testing.assert_array_equal(fast.params["ditac_0.theta"], exact.params["ditac_0.theta"])
    np.testing.assert_array_equal(fast.values, exact.values)  # both the float64 reference
    # Autograd of the lookup table gives secant slopes of its 2048 intervals: close, not equal.
    assert 0 < np.max(np.abs(fast.slope - exact.slope)) < 0.05 * np.max(np.abs(exact.slope))


def test_values_agree_with_the_compiled_module() -> None:
    expr = "ditac[cells=8, exact=true](x) + 0.2 * prelu(x)"
    data = plot_data(expr, prior=True, seed=4, points=301)
    module = actlang.compile(expr).double()
    module.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in data.params.items()})
    np.testing.assert_allclose(data.values, module(torch.from_numpy(data.xs)).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_no_slope_where_the_function_is_undefined() -> None:
    data = plot_data("log(x)", lo=-1, hi=1, points=201)
    negative, positive = data.xs < 0, data.xs > 0
    assert np.isnan(data.values[negative]).all() and np.isnan(data.slope[negative]).all()
    np.testing.assert_allclose(data.slope[positive], 1 / data.xs[positive], rtol=1e-12)


# --- CPAB panels and parameter sources ---------------------------------------------------------


def test_cpab_site_curves() -> None:
    identity = plot_data("ditac[a=-2, b=2, cells=6](x)", points=101).sites
    drawn = plot_data("ditac[a=-2, b=2, cells=6](x)", points=101, prior=True, seed=5).sites
    assert [s.site for s in identity] == [s.site for s in drawn] == ["ditac_0"]
    (zero,), (site,) = identity, drawn
    assert zero.xs[0] == site.xs[0] == -2 and zero.xs[-1] == site.xs[-1] == 2
    np.testing.assert_array_equal(zero.transform, zero.xs)  # θ = 0: the identity, v = 0
    np.testing.assert_array_equal(zero.velocity, 0.0)
    assert np.max(np.abs(site.transform - site.xs)) > 1e-2 and np.max(np.abs(site.velocity)) > 1e-2
    assert np.all(np.diff(site.transform) > 0)  # a diffeomorphism of [a, b]
    assert abs(site.transform[0] + 2) < 1e-12 and abs(site.transform[-1] - 2) < 1e-12
    assert abs(site.velocity[0]) < 1e-12 and abs(site.velocity[-1]) < 1e-12


def test_seed_picks_the_prior_sample() -> None:
    theta = {s: plot_data("cpab[a=0, b=1, cells=4](x)", prior=True, seed=s, points=5).params["cpab_0.theta"]
             for s in (1, 1, 2)}
    again = plot_data("cpab[a=0, b=1, cells=4](x)", prior=True, seed=1, points=5).params["cpab_0.theta"]
    np.testing.assert_array_equal(theta[1], again)
    assert not np.array_equal(theta[1], theta[2])
    torch.manual_seed(7)
    before = torch.random.get_rng_state()
    plot_data("cpab[a=0, b=1, cells=4](x)", prior=True, seed=3, points=5)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global generator is left alone


def test_state_dict_file(capsys, tmp_path) -> None:
    module = actlang.compile("ditac[cells=4](x) + prelu(x)")
    with torch.no_grad():
        module.ditac_0.theta.copy_(torch.tensor([0.5, -1.0, 2.0]))
        module.prelu_0.a.fill_(0.125)
    torch.save(module.state_dict(), tmp_path / "state.pt")
    data = plot_data("ditac[cells=4](x) + prelu(x)", state=tmp_path / "state.pt", points=9)
    np.testing.assert_array_equal(data.params["ditac_0.theta"], [0.5, -1.0, 2.0])
    assert data.params["prelu_0.a"] == 0.125
    code, _, err = run(capsys, "plot", "ditac(x)", "--state", str(tmp_path / "state.pt"), "-o", str(tmp_path / "f.png"))
    assert code == 2 and "does not fit the expression (ditac_0.theta expected)" in err
    (tmp_path / "junk.pt").write_text("not a state dict")
    code, _, err = run(capsys, "plot", "ditac(x)", "--state", str(tmp_path / "junk.pt"), "-o", str(tmp_path / "f.png"))
    assert code == 2 and "cannot load a state dict from" in err


def test_json_summary(capsys, tmp_path) -> None:
    out = tmp_path / "f.svg"
    code, stdout, _ = run(capsys, "plot", "beta * x + 1 / x", "--param", "beta=2", "--range", "-1", "1",
                          "--points", "3", "--json", "-o", str(out))
    summary = json.loads(stdout)
    assert code == 0 and out.exists()
    assert summary["range"] == [-1.0, 1.0] and summary["points"] == 3 and len(summary["curves"]) == 1
    (curve,) = summary["curves"]
    assert curve["derivative"] == "symbolic" and curve["parameters"] == {"beta": 2.0}
    assert curve["label"] == "beta * x + 1 / x where beta = 2" and curve["channel"] is None
    assert curve["nonfinite"] == {"function": 1, "derivative": 1}  # x = 0
    assert curve["sites"] == [] and curve["sample"] is None


# --- gaps and limits -----------------------------------------------------------------------------


def test_gaps_are_shaded_once_per_run() -> None:
    from matplotlib.figure import Figure

    xs = np.linspace(-2, 2, 9)
    ys = np.array([np.nan, np.nan, 1.0, np.inf, 2.0, 3.0, np.nan, 4.0, -np.inf])
    ax = Figure().subplots()
    _curve(ax, xs, ys, "f", "C0")
    assert len(ax.patches) == 4  # NaN runs [0, 2) and [6, 7); inf at 3 and 8
    assert ax.get_legend_handles_labels()[1] == ["f", "NaN (undefined)", "±inf"]


@given(st.lists(st.booleans(), max_size=40))
def test_runs_cover_exactly_the_mask(bits: list[bool]) -> None:
    mask = np.array(bits, dtype=bool)
    rebuilt = np.zeros_like(mask)
    for start, stop in _runs(mask):
        assert start < stop and not rebuilt[start:stop].any()
        rebuilt[start:stop] = True
    np.testing.assert_array_equal(rebuilt, mask)


def test_limits_ignore_a_pole_but_keep_a_spike() -> None:
    xs = np.linspace(-5, 5, 1001)
    low, high = _limits(1 / (xs + 1e-9))  # 1e9 next to the pole
    assert -100 < low < -5 and 5 < high < 100
    spike = actlang.evaluate("100 * sigmoid(100 * x) * sigmoid(-100 * x)", xs)  # d/dx sigmoid(100x), peak 25
    assert _limits(spike)[1] > 25
    assert _limits(np.array([1.0, 2.0, 3.0])) == pytest.approx((0.9, 3.1))
    assert _limits(np.array([2.0, 2.0])) == (1.0, 3.0)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["relu(x", "-o", "f.png"], "ParseError: unexpected end of input at 1:7"),
        (["x", "-o", "f.jpg"], "cannot tell the image format of 'f.jpg'"),
        (["x", "--range", "1", "1", "-o", "f.png"], "two finite numbers A < B, got 1 1"),
        (["x", "--range", "0", "inf", "-o", "f.png"], "two finite numbers A < B"),
        (["x", "--points", "1", "-o", "f.png"], "points must be between 2 and"),
        (["x", "--param", "beta", "-o", "f.png"], "--param expects NAME=VALUE with a number, got 'beta'"),
        (["x * beta", "--param", "beta=two", "-o", "f.png"], "got 'beta=two'"),
        (["x * beta", "--param", "gamma=2", "-o", "f.png"], "unknown parameter 'gamma'; the expression's parameters"),
        (["x * beta", "relu(x)", "--param", "gamma=2", "-o", "f.png"], "the expressions' parameters: beta"),
        (["x", "relu(x", "-o", "f.png"], "ParseError"),
    ],
)
def test_bad_input_exits_2(capsys, tmp_path, monkeypatch, argv, message) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "plot", *argv)
    assert (code, out) == (2, "")
    assert message in err and err.startswith("actlang: ")
    assert not list(tmp_path.iterdir())  # nothing written


def test_caret_under_the_fault(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "plot", "erfc(sofplus(x))", "-o", str(tmp_path / "f.png"))
    assert code == 2
    assert err.splitlines()[1:] == ["  erfc(sofplus(x))", "       ^^^^^^^"]


def test_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["plot", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    for option in ("EXPR [EXPR ...]", "-o FILE", "--range A B", "--points N", "--param NAME=VALUE", "--prior",
                   "--seed S", "--state FILE", "--site PATH", "--channel I"):
        assert option in out


# --- the demo section ----------------------------------------------------------------------------


def test_sparkline() -> None:
    from actlang.demos.plot import sparkline

    assert sparkline(np.arange(8.0), width=8) == "▁▂▃▄▅▆▇█"
    assert sparkline(np.array([np.nan, 1.0, np.inf, 3.0]), width=4) == " ▁ █"
    assert sparkline(np.full(5, 2.0), width=3) == "▁▁▁"
    assert sparkline(np.full(5, np.nan), width=3) == "   "


def test_demo_section(capsys) -> None:
    code, out, _ = run(capsys, "demo", "--section", "plot")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("== Plots")
    assert "ditac[cells=8, init=prior](x), θ drawn from the smoothness prior (seed 0); f′ by autograd:" in lines
    log_slope = next(line for line in lines if line.startswith("  f′") and "100.000" in line)
    assert log_slope.split()[1].startswith("█▃")  # 1/x falls off right of 0; blank (NaN) left of it
    assert log_slope[13:35].strip() == ""
