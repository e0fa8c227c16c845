"""Several curves for one figure: every expression, and every channel of per-channel parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from actlang.ast import Expr
from actlang.errors import ActlangError
from actlang.plot.data import PlotData, names, plot_data
from actlang.plot.states import StateDict, channel_states, load_state


def plot_curves(
    exprs: Sequence[Expr | str],
    *,
    params: Mapping[str, float] | None = None,
    state: str | Path | StateDict | None = None,
    site: str | None = None,
    channels: Sequence[int] | None = None,
    max_channels: int = 10,
    **options: Any,
) -> list[PlotData]:
    """:func:`plot_data` of every expression: one curve each, or one per channel when the state
    dict holds per-channel parameters (``channels`` picks some; more than ``max_channels`` must be
    picked). A ``params`` name applies to every expression that has it, and to at least one."""
    if not exprs:
        raise ActlangError("nothing to plot: give at least one expression")
    loaded = load_state(state) if state is not None else None
    curves: list[PlotData] = []
    used: set[str] = set()
    for expr in exprs:
        count = _channel_count(expr, loaded, site)
        picked = list(channels) if channels is not None and count > 1 else list(range(count))
        if count > max_channels and channels is None:
            raise ActlangError(f"the state dict holds {count} channels; pick at most {max_channels} with --channel")
        for channel in picked:
            own = _own_params(expr, params or {})
            used |= own.keys()
            curves.append(plot_data(expr, params=own, state=loaded, site=site,
                                    channel=channel if count > 1 else None, **options))
    if unused := sorted(set(params or {}) - used):
        listed = ", ".join(dict.fromkeys(n for c in curves for n in c.params)) or "none"
        whose = "the expression's" if len(exprs) == 1 else "the expressions'"
        raise ActlangError(f"unknown parameter '{unused[0]}'; {whose} parameters: {listed}")
    return curves


def _channel_count(expr: Expr | str, state: StateDict | None, site: str | None) -> int:
    """How many channels ``state`` holds for ``expr`` (1 without per-channel parameters)."""
    if state is None:
        return 1
    import torch

    from actlang.compiler import compile as compile_

    with torch.random.fork_rng(devices=[]):  # initial values are replaced; the caller's generator is kept
        module = compile_(expr)
    return len(channel_states(module, state, site))


def _own_params(expr: Expr | str, params: Mapping[str, float]) -> dict[str, float]:
    """The ``params`` that name a parameter of ``expr`` (its learned scalars and site tensors)."""
    from actlang.parser import parse

    wanted = set(names(parse(expr) if isinstance(expr, str) else expr))
    return {k: v for k, v in params.items() if k in wanted}
