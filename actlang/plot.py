"""``actlang plot``: an activation and its derivative on an interval, and for CPAB primitives the
velocity field v^θ and the warp T^θ of every site (as in the DiTAC supplement's Fig. 13).

:func:`plot_data` computes the curves (numpy arrays, no matplotlib); :func:`draw` renders them
with matplotlib's Agg/SVG/PDF canvases (no pyplot, so no global backend state); :func:`plot`
does both.

- f(x) is the float64 reference :func:`actlang.evaluate`, at the parameter values of the compiled
  module (so a θ drawn by ``init=prior`` or loaded from a state dict is the one shown).
- f′(x) is :func:`actlang.derivative` (symbolic) evaluated the same way where it exists; for
  opaque or stateful primitives (CPAB, PReLU, mixtures) it is autograd through
  :func:`actlang.compile` in float64. ``PlotData.slope_method`` says which.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from actlang.ast import Call, Expr
from actlang.ast import params as scalar_params
from actlang.build import call
from actlang.errors import ActlangError, UnsupportedError
from actlang.evaluate import evaluate, learned_names
from actlang.registry import lookup

FORMATS = (".png", ".svg", ".pdf")
MAX_POINTS = 1_000_000


class PlotUnavailableError(ActlangError):
    """Drawing needs matplotlib, which is not installed."""


@dataclass(frozen=True)
class SiteCurves:
    """v^θ and T^θ of one CPAB site (``ditac_0``, ...) on its domain [a, b]."""

    site: str
    xs: np.ndarray
    velocity: np.ndarray
    transform: np.ndarray


@dataclass(frozen=True)
class PlotData:
    """Everything a plot shows; ``slope_method`` is ``"symbolic"`` or ``"autograd"``."""

    expression: str
    xs: np.ndarray
    values: np.ndarray
    slope: np.ndarray
    slope_method: str
    slope_expression: str | None
    params: Mapping[str, np.ndarray]
    sites: tuple[SiteCurves, ...] = field(default=())


def with_prior(expr: Expr) -> Expr:
    """``expr`` with ``init=prior`` on every CPAB call, so compiling it draws θ ~ N(0, Σ_θ)."""
    match expr:
        case Call(name=name, args=args, hyper=hyper):
            primitive = lookup(name)
            hp = dict(hyper) | ({"init": "prior"} if primitive and "cpab" in primitive.tags else {})
            return call(name, *(with_prior(a) for a in args), **hp)
    return expr


def plot_data(
    expr: Expr | str,
    *,
    lo: float = -5.0,
    hi: float = 5.0,
    points: int = 1001,
    params: Mapping[str, float] | None = None,
    seed: int = 0,
    prior: bool = False,
    state: str | Path | Mapping[str, Any] | None = None,
) -> PlotData:
    """The curves of ``expr`` at ``points`` equally spaced xs in [lo, hi].

    Parameter values come from the compiled module (seeded with ``seed``; CPAB θ drawn from the
    smoothness prior when ``prior``), then ``state`` (a state dict or a file saved with
    ``torch.save(module.state_dict(), FILE)``), then ``params`` (name -> value; a tensor
    parameter is filled with the value).
    """
    import torch

    from actlang.compiler import compile as compile_

    _check_range(lo, hi, points)
    if isinstance(expr, str):
        from actlang.parser import parse

        expr = parse(expr)
    if prior:
        expr = with_prior(expr)
    with torch.random.fork_rng(devices=[]):  # seeded, without touching the caller's generator
        torch.manual_seed(seed)
        module = compile_(expr).double().eval()
    if state is not None:
        _load_state(module, state)
    _override(module, params or {})
    known = set(_names(expr))
    values = {n: p.detach().numpy().copy() for n, p in module.named_parameters() if n in known}
    xs = np.linspace(lo, hi, points)
    ys = evaluate(expr, xs, values)
    slope, method, text = _slope(expr, module, xs, values)
    # No derivative where the function is undefined (d/dx log(x) = 1/x says nothing about x < 0).
    slope = np.where(np.isnan(ys), np.nan, slope)
    return PlotData(str(expr), xs, ys, slope, method, text, values, _sites(module, points))


def _check_range(lo: float, hi: float, points: int) -> None:
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ActlangError(f"the range must be two finite numbers A < B, got {lo:g} {hi:g}")
    if not 2 <= points <= MAX_POINTS:
        raise ActlangError(f"points must be between 2 and {MAX_POINTS}, got {points}")


def _names(expr: Expr) -> list[str]:
    return [*scalar_params(expr), *learned_names(expr)]


def _load_state(module: Any, state: str | Path | Mapping[str, Any]) -> None:
    import torch

    if not isinstance(state, Mapping):
        try:
            state = torch.load(state, map_location="cpu", weights_only=True)
        except Exception as error:  # torch.load fails in many ways (OSError, UnpicklingError, KeyError, ...)
            raise ActlangError(f"cannot load a state dict from {state}: {error}") from None
        if not isinstance(state, Mapping):
            raise ActlangError(f"{state} holds a {type(state).__name__}, not a state dict")
    try:
        module.load_state_dict(dict(state), strict=True)
    except RuntimeError as error:
        wanted = ", ".join(module.state_dict()) or "none"
        raise ActlangError(f"the state dict does not fit the expression ({wanted} expected): {error}") from None


def _override(module: Any, given: Mapping[str, float]) -> None:
    import torch

    parameters = dict(module.named_parameters())
    for name, value in given.items():
        if name not in parameters:
            listed = ", ".join(parameters) or "none"
            raise ActlangError(f"unknown parameter '{name}'; the expression's parameters: {listed}")
        with torch.no_grad():
            parameters[name].fill_(float(value))


def _slope(
    expr: Expr, module: Any, xs: np.ndarray, values: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, str, str | None]:
    """f′ at xs: the symbolic derivative evaluated in float64, else autograd of the module."""
    from actlang.symbolic import derivative

    try:
        derived = derivative(expr, "x")
    except UnsupportedError:  # an opaque or stateful primitive: no closed form in actlang
        return _autograd(module, xs), "autograd", None
    wanted = set(_names(derived))
    return evaluate(derived, xs, {k: v for k, v in values.items() if k in wanted}), "symbolic", str(derived)


def _autograd(module: Any, xs: np.ndarray) -> np.ndarray:
    import torch

    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(module(x).sum(), x, allow_unused=True)
    return np.zeros_like(xs) if grad is None else grad.detach().numpy().copy()


def _sites(module: Any, points: int) -> tuple[SiteCurves, ...]:
    """v^θ and T^θ on [a, b] of every CPAB submodule, in site order."""
    import torch

    from actlang.cpab.module import CPABActivation

    found = []
    with torch.no_grad():
        for name, sub in module.named_modules():
            if isinstance(sub, CPABActivation):
                t = torch.linspace(sub.lo, sub.hi, points, dtype=torch.float64)
                velocity, transform = sub.velocity(t).numpy(), sub.transform(t).numpy()
                found.append(SiteCurves(name, t.numpy().copy(), velocity.copy(), transform.copy()))
    return tuple(found)


# --- drawing -----------------------------------------------------------------------------------


def plot(expr: Expr | str, output: str | Path, **options: Any) -> PlotData:
    """Compute the curves (:func:`plot_data` ``options``) and write them to ``output``."""
    _format(output)  # a bad file name fails before any work
    data = plot_data(expr, **options)
    draw(data, output)
    return data


def _format(output: str | Path) -> str:
    suffix = Path(output).suffix.lower()
    if suffix not in FORMATS:
        raise ActlangError(f"cannot tell the image format of '{output}'; name it .png, .svg or .pdf")
    return suffix[1:]


def draw(data: PlotData, output: str | Path) -> None:
    """Write ``data`` as an image: f and f′ on top, then v^θ and T^θ per CPAB site."""
    fmt = _format(output)
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailableError("actlang plot needs matplotlib: pip install 'actlang[plot]'") from None
    rows = 1 + len(data.sites)
    # A fixed hash salt and no date: the same plot gives the same SVG/PDF bytes (docs images).
    with matplotlib.rc_context({"svg.hashsalt": "actlang", "font.size": 9}):
        figure = Figure(figsize=(9.0, 3.0 * rows), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots(rows, 2, squeeze=False)
        figure.suptitle(_shorten(data.expression, 110))
        _curve(axes[0][0], data.xs, data.values, "f(x), float64 reference", "C0")
        how = "symbolic derivative" if data.slope_method == "symbolic" else "autograd of the compiled module"
        _curve(axes[0][1], data.xs, data.slope, f"f′(x), {how}", "C1")
        for row, site in enumerate(data.sites, start=1):
            _curve(axes[row][0], site.xs, site.velocity, rf"$v^\theta$, {site.site}", "C2")
            axes[row][0].axhline(0.0, color="0.6", linewidth=0.8)
            axes[row][1].plot(site.xs, site.xs, "--", color="0.6", linewidth=0.8, label="identity")
            _curve(axes[row][1], site.xs, site.transform, rf"$T^\theta$, {site.site}", "C3")
        metadata = {} if fmt == "png" else {"Date": None}  # CreationDate for PDF is also "Date"
        try:
            figure.savefig(output, format=fmt, metadata=metadata)
        except OSError as error:
            raise ActlangError(f"cannot write {output}: {error}") from None


def _curve(ax: Any, xs: np.ndarray, ys: np.ndarray, label: str, color: str) -> None:
    """One curve; NaN gaps shaded grey and ±inf runs shaded red, limits set by the finite values."""
    finite = np.isfinite(ys)
    ax.plot(xs, np.where(finite, ys, np.nan), color=color, linewidth=1.5, label=label)
    for kind, mask, shade in (("NaN", np.isnan(ys), "0.85"), ("±inf", np.isinf(ys), "mistyrose")):
        for index, (start, stop) in enumerate(_runs(mask)):
            width = (xs[1] - xs[0]) / 2 if len(xs) > 1 else 0.5
            ax.axvspan(xs[start] - width, xs[stop - 1] + width, color=shade, zorder=0,
                       label=kind if index == 0 else None)
    if finite.any():
        ax.set_ylim(*_limits(ys[finite]))
    ax.set_xlim(xs[0], xs[-1])
    ax.grid(True, linewidth=0.4, alpha=0.6)
    ax.legend(loc="best", fontsize=8)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges where ``mask`` is true."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _limits(ys: np.ndarray) -> tuple[float, float]:
    """y limits: the finite range, or the 1–99 percentile range when a pole would flatten the rest."""
    low, high = float(ys.min()), float(ys.max())
    p_low, p_high = (float(v) for v in np.percentile(ys, [1, 99]))
    # 1000: a narrow spike stays whole (sigmoid(100x)' on [-5, 5] spans 38x its percentile
    # range); a grid point next to a pole (1/x at 1e-9) spans millions of times it.
    if high - low > 1000 * max(p_high - p_low, 1e-12):
        low, high = p_low, p_high
    pad = 0.05 * (high - low) or 0.5 * max(abs(high), 1.0)
    return low - pad, high + pad


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
