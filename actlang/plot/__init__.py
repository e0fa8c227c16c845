"""``actlang plot``: activations and their derivatives on one figure, and for CPAB primitives the
velocity field v^θ and the warp T^θ of every site (as in the DiTAC supplement's Fig. 13).

:func:`plot_data` computes one curve (:mod:`.data`) and :func:`plot_curves` several (:mod:`.curves`;
numpy arrays, no matplotlib); :func:`draw` renders them (:mod:`.render`); :func:`plot` does both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actlang.ast import Expr
from actlang.plot.curves import plot_curves
from actlang.plot.data import MAX_POINTS, PlotData, SiteCurves, per_sample, plot_data, with_prior
from actlang.plot.render import FORMATS, PlotUnavailableError, draw, image_format, limits, make_figure


def plot(exprs: Expr | str | Sequence[Expr | str], output: str | Path, **options: Any) -> list[PlotData]:
    """Compute the curves of one or several expressions (:func:`plot_curves` ``options``) and write
    them to ``output`` as one figure."""
    image_format(output)  # a bad file name fails before any work
    curves = plot_curves([exprs] if isinstance(exprs, str) or isinstance(exprs, Expr) else list(exprs), **options)
    draw(curves, output)
    return curves


__all__ = [
    "FORMATS", "MAX_POINTS", "PlotData", "PlotUnavailableError", "SiteCurves", "draw", "image_format", "limits",
    "make_figure", "per_sample", "plot", "plot_curves", "plot_data", "with_prior",
]
