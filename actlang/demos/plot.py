"""Demo section: the curves ``actlang plot`` draws, shown as text (no image, no matplotlib needed)."""

from __future__ import annotations

from typing import TextIO

import numpy as np

from actlang.plot import plot_data

TITLE = "Plots: f, f′, and a DiTAC's velocity field and warp"
ORDER = 80

BLOCKS = "▁▂▃▄▅▆▇█"
WIDTH = 56


def sparkline(values: np.ndarray, width: int = WIDTH) -> str:
    """``values`` resampled to ``width`` characters, scaled to their own finite range (blank: NaN/inf)."""
    picked = values[np.linspace(0, len(values) - 1, width).round().astype(int)]
    finite = np.isfinite(picked)
    if not finite.any():
        return " " * width
    low, high = picked[finite].min(), picked[finite].max()
    span = (high - low) or 1.0
    levels = np.clip(((picked - low) / span * (len(BLOCKS) - 1)).round(), 0, len(BLOCKS) - 1)
    return "".join(BLOCKS[int(level)] if ok else " " for level, ok in zip(levels, finite, strict=True))


def _row(out: TextIO, label: str, values: np.ndarray) -> None:
    finite = values[np.isfinite(values)]
    scale = f"[{finite.min():7.3f}, {finite.max():7.3f}]" if finite.size else "[no finite values]"
    print(f"  {label:<10} {sparkline(values)} {scale}", file=out)


def run(out: TextIO) -> None:
    examples = [("x * sigmoid(beta * x) where beta = 2", {}), ("log(x) + 1", {})]
    for text, options in examples:
        data = plot_data(text, lo=-3, hi=3, points=601, **options)
        print(f"{data.expression} on [-3, 3] (f′: {data.slope_method}; blank = undefined)", file=out)
        _row(out, "f", data.values)
        _row(out, "f′", data.slope)
    data = plot_data("ditac[cells=8](x)", lo=-5, hi=5, points=601, prior=True, seed=0)
    print(f"\n{data.expression}, θ drawn from the smoothness prior (seed 0); f′ by {data.slope_method}:", file=out)
    _row(out, "f", data.values)
    _row(out, "f′", data.slope)
    for site in data.sites:
        print(f"{site.site} on [{site.xs[0]:g}, {site.xs[-1]:g}]:", file=out)
        _row(out, "v^θ", site.velocity)
        _row(out, "T^θ − x", site.transform - site.xs)
    print("\nAs an image (PNG, SVG or PDF; needs matplotlib):", file=out)
    print("  actlang plot 'ditac[cells=8](x)' --prior --seed 0 -o ditac.png", file=out)
