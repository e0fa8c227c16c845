"""A grouped bar chart as a standalone SVG file: no plotting library needed for the docs."""

from __future__ import annotations

from html import escape

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"]


def bar_chart(path: str, title: str, groups: list[str], series: list[str], values: list[list[float]],
              y_label: str = "", errors: list[list[float]] | None = None) -> None:
    """``values[g][s]``: the bar of series ``s`` in group ``g`` (negative bars go below the axis)."""
    width, height, left, top, bottom = 760, 360, 60, 40, 60
    plot_w, plot_h = width - left - 20, height - top - bottom
    flat = [v + (errors[g][s] if errors else 0) * (1 if v >= 0 else -1)
            for g, row in enumerate(values) for s, v in enumerate(row)]
    high, low = max(0.0, *flat), min(0.0, *flat)
    span = (high - low) or 1.0

    def y(v: float) -> float:
        return top + (high - v) / span * plot_h

    group_w = plot_w / len(groups)
    bar_w = group_w * 0.8 / len(series)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
             f'<line x1="{left}" y1="{y(0):.1f}" x2="{left + plot_w}" y2="{y(0):.1f}" stroke="black"/>',
             f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
             f'text-anchor="middle">{escape(y_label)}</text>']
    for tick in (low, (low + high) / 2, high):
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
    for g, group in enumerate(groups):
        x0 = left + g * group_w + group_w * 0.1
        parts.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{top + plot_h + 18}" text-anchor="middle">'
                     f"{escape(group)}</text>")
        for s, value in enumerate(values[g]):
            x = x0 + s * bar_w
            y0, y1 = sorted((y(0), y(value)))
            parts.append(f'<rect x="{x:.1f}" y="{y0:.1f}" width="{bar_w * 0.9:.1f}" height="{y1 - y0:.1f}" '
                         f'fill="{PALETTE[s % len(PALETTE)]}"/>')
            if errors:
                e, cx = errors[g][s], x + bar_w * 0.45
                parts.append(f'<line x1="{cx:.1f}" y1="{y(value - e):.1f}" x2="{cx:.1f}" y2="{y(value + e):.1f}" '
                             'stroke="black"/>')
    for s, name in enumerate(series):
        x = left + s * (plot_w / max(len(series), 1))
        parts.append(f'<rect x="{x:.1f}" y="{height - 22}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>'
                     f'<text x="{x + 14:.1f}" y="{height - 13}">{escape(name)}</text>')
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join([*parts, "</svg>"]) + "\n")
