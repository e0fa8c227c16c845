"""Drawing the curves of :mod:`actlang.plot.data` with matplotlib's Agg/SVG/PDF canvases (no pyplot,
so no global backend state).

The top row holds f and f′ of every curve on one x-range; each CPAB site adds a row with its
velocity field v^θ and its warp T^θ on its own domain [a, b], which the x label states. One curve
is titled with its expression and the parameter values drawn; several share a legend below the
panels, one entry each. NaN regions are shaded, ±inf runs hatched, and a pole does not flatten
the y-range (:mod:`.poles`, :func:`limits`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actlang.errors import ActlangError
from actlang.plot.data import PlotData
from actlang.plot.poles import RADIUS, broken_at, near_poles

FORMATS = (".png", ".svg", ".pdf")
WRAP = 110  # characters of a title or legend line
# A fixed hash salt (and no date, in draw): the same plot gives the same SVG/PDF bytes (docs images).
STYLE = {"svg.hashsalt": "actlang", "font.size": 9}


class PlotUnavailableError(ActlangError):
    """Drawing needs matplotlib, which is not installed."""


def image_format(output: str | Path) -> str:
    """``png``, ``svg`` or ``pdf`` from the file name; anything else is an error."""
    suffix = Path(output).suffix.lower()
    if suffix not in FORMATS:
        raise ActlangError(f"cannot tell the image format of '{output}'; name it .png, .svg or .pdf")
    return suffix[1:]


def draw(data: PlotData | Sequence[PlotData], output: str | Path) -> None:
    """Write the curves as an image (the format from ``output``'s name)."""
    fmt = image_format(output)
    figure = make_figure([data] if isinstance(data, PlotData) else list(data))
    # no date, so the same command writes the same bytes: SVG's key is "Date", PDF's "CreationDate"
    metadata = {} if fmt == "png" else {"CreationDate": None} if fmt == "pdf" else {"Date": None}
    import matplotlib  # make_figure has found it

    try:
        with matplotlib.rc_context(STYLE):
            figure.savefig(output, format=fmt, metadata=metadata)
    except OSError as error:
        raise ActlangError(f"cannot write {output}: {error}") from None


def make_figure(curves: list[PlotData]) -> Any:
    """The matplotlib ``Figure`` of ``curves`` (see the module docstring), not yet saved."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailableError("actlang plot needs matplotlib: pip install 'actlang[plot]'") from None
    if not curves:
        raise ActlangError("nothing to draw")
    labels = _labels(curves)
    rows = [(index, site) for index, curve in enumerate(curves) for site in curve.sites]
    legend_lines = sum(len(textwrap.wrap(label, WRAP)) for label in labels) if len(curves) > 1 else 0
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(10.0, 3.4 * (1 + len(rows)) + 0.22 * legend_lines + 0.3), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots(1 + len(rows), 2, squeeze=False)
        _top_row(axes[0], curves, labels)
        for (index, site), (left, right) in zip(rows, axes[1:], strict=True):
            _site_row(left, right, site, f"C{index % 10}", index + 1 if len(curves) > 1 else None)
        figure.suptitle(_title(curves), fontsize=10)
        if len(curves) > 1:
            handles = axes[0][0].get_lines()[: len(curves)]
            wrapped = ["\n".join(textwrap.wrap(label, WRAP)) for label in labels]
            figure.legend(handles, wrapped, loc="outside lower center", fontsize=8, frameon=False)
    return figure


def _label(curve: PlotData) -> str:
    channel = f"channel {curve.channel}: " if curve.channel is not None else ""
    return channel + (curve.label or curve.expression)


def _labels(curves: list[PlotData]) -> list[str]:
    """Legend entries: numbered (the CPAB rows refer to them), with f′'s method where they differ."""
    if len(curves) == 1:
        return [_label(curves[0])]
    mixed = len({c.slope_method for c in curves}) > 1
    return [f"({i}) {_label(c)}" + (f"  [f′ by {c.slope_method}]" if mixed else "") for i, c in enumerate(curves, 1)]


def _title(curves: list[PlotData]) -> str:
    """One curve: its label; several: their expressions. Then how per-sample curves were drawn."""
    head = _label(curves[0]) if len(curves) == 1 else ", ".join(dict.fromkeys(c.expression for c in curves))
    sample = next((c.sample for c in curves if c.sample), None)
    note = [f"{'per-sample curves: f(x)' if len(curves) > 1 else 'f(x)'} {sample}"] if sample else []
    return "\n".join(textwrap.wrap(head, WRAP) + note)


def _top_row(axes: Sequence[Any], curves: list[PlotData], labels: list[str]) -> None:
    f_ax, d_ax = axes
    for index, (curve, label) in enumerate(zip(curves, labels, strict=True)):
        color = f"C{index % 10}"
        _curve(f_ax, curve.xs, curve.values, label, color, curve.poles)
        _curve(d_ax, curve.xs, curve.slope, label, color, curve.slope_poles)
    methods = {c.slope_method for c in curves}
    how = {"symbolic": "symbolic derivative", "autograd": "autograd of the compiled module"}
    xlabel = "x (pre-activation)"
    _finish(f_ax, curves, "values", xlabel, "f(x) (activation)", "f(x), float64 reference")
    title = f"f′(x), {how[methods.pop()]}" if len(methods) == 1 else "f′(x), symbolic where it exists, else autograd"
    _finish(d_ax, curves, "slope", xlabel, "f′(x) = df/dx", title)


def _site_row(left: Any, right: Any, site: Any, color: str, number: int | None) -> None:
    which = f", curve ({number})" if number is not None else ""
    lo, hi = float(site.xs[0]), float(site.xs[-1])
    xlabel = f"x on the CPAB domain [a, b] = [{lo:g}, {hi:g}]"
    left.axhline(0.0, color="0.6", linewidth=0.8)
    left.plot(site.xs, site.velocity, color=color, linewidth=1.5)
    right.plot(site.xs, site.xs, "--", color="0.6", linewidth=0.8, label="identity")
    right.plot(site.xs, site.transform, color=color, linewidth=1.5, label=r"$T^\theta$")
    for ax, ys, name, title in ((left, site.velocity, r"$v^\theta(x)$", f"velocity field of {site.site}{which}"),
                                (right, site.transform, r"$T^\theta(x)$", f"warp of {site.site}{which}")):
        ax.set_xlim(lo, hi)
        ax.set_ylim(*limits(ys[np.isfinite(ys)]) if np.isfinite(ys).any() else (-1, 1))
        ax.set(xlabel=xlabel, ylabel=name, title=title)
        ax.grid(True, linewidth=0.4, alpha=0.6)
    right.legend(loc="upper left", fontsize=8)


def _curve(ax: Any, xs: np.ndarray, ys: np.ndarray, label: str, color: str, poles: tuple[float, ...] = ()) -> None:
    """One curve, not joined across its poles; its NaN runs shaded and its ±inf runs hatched, in its
    colour, labelled once per panel."""
    finite = np.isfinite(ys)
    ax.plot(*broken_at(xs, np.where(finite, ys, np.nan), poles), color=color, linewidth=1.5, label=label)
    shown = set(ax.get_legend_handles_labels()[1])
    width = (xs[-1] - xs[0]) / (2 * (len(xs) - 1)) if len(xs) > 1 else 0.5
    for kind, mask, style in (("NaN (undefined)", np.isnan(ys), {"alpha": 0.15}),
                              ("±inf", np.isinf(ys), {"alpha": 0.35, "hatch": "xx"})):
        for start, stop in _runs(mask):
            ax.axvspan(xs[start] - width, xs[stop - 1] + width, color=color, zorder=0, linewidth=0,
                       label=None if kind in shown else kind, **style)
            shown.add(kind)


def _finish(ax: Any, curves: list[PlotData], attribute: str, xlabel: str, ylabel: str, title: str) -> None:
    """Limits over every curve (one x-range for the row; y away from poles), labels, grid and the
    shading legend."""
    ys = np.concatenate([getattr(c, attribute) for c in curves])
    if np.isfinite(ys).any():
        ax.set_ylim(*_y_range(curves, attribute, ys))
    ax.set_xlim(min(float(c.xs[0]) for c in curves), max(float(c.xs[-1]) for c in curves))
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(True, linewidth=0.4, alpha=0.6)
    shading = [(h, t) for h, t in zip(*ax.get_legend_handles_labels(), strict=True) if t in ("NaN (undefined)", "±inf")]
    if shading:
        ax.legend(*zip(*shading, strict=True), loc="best", fontsize=8)


def _y_range(curves: list[PlotData], attribute: str, ys: np.ndarray) -> tuple[float, float]:
    """The y-range of a panel: the finite values outside :data:`RADIUS` of every pole; where there
    are poles, at most twice the span of the values far from them (5 radii) beyond it, so that
    a pole's branch leaves the panel instead of flattening the other curves (1/(1−x)² next to gelu′)."""
    finite = np.isfinite(ys)
    which = "poles" if attribute == "values" else "slope_poles"
    near = np.concatenate([near_poles(c.xs, getattr(c, which)) for c in curves])
    far = ~np.concatenate([near_poles(c.xs, getattr(c, which), 5 * RADIUS) for c in curves]) & finite
    kept = finite & ~near if (finite & ~near).any() else finite
    values = ys[kept]
    if far.any() and near.any():
        base_low, base_high = float(ys[far].min()), float(ys[far].max())
        span = max(base_high - base_low, 1e-9 * max(abs(base_high), 1.0))
        values = np.clip(values, base_low - 2 * span, base_high + 2 * span)
    # Grid curves had their poles located; a per-sample curve (ash) falls back on percentiles.
    return limits(values, robust=any(c.sample for c in curves))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges where ``mask`` is true."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def limits(ys: np.ndarray, robust: bool = True) -> tuple[float, float]:
    """y limits: the finite range, padded; ``robust``: the 1–99 percentile range instead when a
    value far outside it (a pole nobody located) would flatten the rest."""
    low, high = float(ys.min()), float(ys.max())
    p_low, p_high = (float(v) for v in np.percentile(ys, [1, 99]))
    # 1000: a narrow spike stays whole (sigmoid(100x)' on [-5, 5] spans 38x its percentile
    # range); a grid point next to a pole (1/x at 1e-9) spans millions of times it.
    if robust and high - low > 1000 * max(p_high - p_low, 1e-12):
        low, high = p_low, p_high
    pad = 0.05 * (high - low) or 0.5 * max(abs(high), 1.0)
    return low - pad, high + pad
