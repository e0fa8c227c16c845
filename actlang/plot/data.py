"""The curves ``actlang plot`` draws, as numpy arrays (no matplotlib).

- f(x) is the float64 reference :func:`actlang.evaluate`, at the parameter values of the compiled
  module (so a θ drawn by ``init=prior`` or loaded from a state dict is the one shown).
- f′(x) is :func:`actlang.derivative` (symbolic) evaluated the same way where it exists; for
  opaque or stateful primitives (CPAB, PReLU, mixtures) it is autograd through
  :func:`actlang.compile` in float64. ``PlotData.slope_method`` says which.
- A per-sample primitive (``ash``: its output depends on the mean and deviation of each sample's
  feature map) has no curve of x alone: each x is drawn as one more input of a fixed feature map
  of inputs drawn from N(0, 1), the distribution its threshold z = Φ⁻¹(1 − k/100) assumes.

Parameters come from a state dict, of the module or of a whole model (``site`` names the
activation's path in it); per-channel parameters give one curve per channel (:mod:`.states`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from actlang.ast import Call, Expr, walk, with_inits
from actlang.ast import params as scalar_params
from actlang.build import call
from actlang.errors import ActlangError, UnsupportedError
from actlang.evaluate import evaluate, learned_names
from actlang.plot.poles import find_poles
from actlang.plot.states import StateDict, channel_states, load_state, override
from actlang.registry import lookup

MAX_POINTS = 1_000_000
SAMPLE = 1000  # inputs of the feature map a per-sample primitive (ash) is drawn on


@dataclass(frozen=True)
class SiteCurves:
    """v^θ and T^θ of one CPAB site (``ditac_0``, ...) on its domain [a, b]."""

    site: str
    xs: np.ndarray
    velocity: np.ndarray
    transform: np.ndarray


@dataclass(frozen=True)
class PlotData:
    """Everything one curve shows; ``slope_method`` is ``"symbolic"`` or ``"autograd"``.

    ``label`` is the expression with the parameter values drawn (``x * sigmoid(beta * x) where
    beta = 2``, a tensor as its range), ``sample`` describes the inputs of a per-sample
    primitive (``None`` on a grid), ``channel`` the channel of per-channel parameters;
    ``poles`` and ``slope_poles`` are where f and f′ leave every bound (:mod:`.poles`)."""

    expression: str
    xs: np.ndarray
    values: np.ndarray
    slope: np.ndarray
    slope_method: str
    slope_expression: str | None
    params: Mapping[str, np.ndarray]
    sites: tuple[SiteCurves, ...] = field(default=())
    label: str = ""
    sample: str | None = None
    channel: int | None = None
    poles: tuple[float, ...] = ()
    slope_poles: tuple[float, ...] = ()


def with_prior(expr: Expr) -> Expr:
    """``expr`` with ``init=prior`` on every CPAB call, so compiling it draws θ ~ N(0, Σ_θ)."""
    match expr:
        case Call(name=name, args=args, hyper=hyper):
            primitive = lookup(name)
            hp = dict(hyper) | ({"init": "prior"} if primitive and "cpab" in primitive.tags else {})
            return call(name, *(with_prior(a) for a in args), **hp)
    return expr


def per_sample(expr: Expr) -> bool:
    """Whether ``expr`` uses statistics of the whole feature map (``ash``, ``f_ash``, ``l_ash``)."""
    return any(isinstance(n, Call) and (p := lookup(n.name)) is not None and not p.pointwise for n in walk(expr))


def plot_data(
    expr: Expr | str,
    *,
    lo: float = -5.0,
    hi: float = 5.0,
    points: int = 1001,
    params: Mapping[str, float] | None = None,
    seed: int = 0,
    prior: bool = False,
    state: str | Path | StateDict | None = None,
    site: str | None = None,
    channel: int | None = None,
) -> PlotData:
    """The curves of ``expr`` at ``points`` equally spaced xs in [lo, hi] (a per-sample
    expression: each x as one more input of a feature map drawn from N(0, 1) with ``seed``).

    Parameter values come from the compiled module (seeded with ``seed``; CPAB θ drawn from the
    smoothness prior when ``prior``), then ``state`` (a state dict or a file saved with
    ``torch.save(module.state_dict(), FILE)``; a whole model's with ``site``, the activation's
    path in the model; per-channel values need ``channel``), then ``params`` (name -> value; a
    tensor parameter is filled with the value).
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
        _load(module, state, site, channel)
    override(module, params or {})
    known = set(names(expr))
    values = {n: p.detach().numpy().copy() for n, p in module.named_parameters() if n in known}
    xs = np.linspace(lo, hi, points)
    poles: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
    if per_sample(expr):
        ys, slope, note = _on_a_sample(expr, module, xs, seed, values)
        method, text = "autograd", None
    else:
        ys = evaluate(expr, xs, values)
        slope_fn, method, text = _slope(expr, module, values)
        slope, note = slope_fn(xs), None
        poles = find_poles(lambda t: evaluate(expr, t, values), xs, ys), find_poles(slope_fn, xs, slope)
    # No derivative where the function is undefined (d/dx log(x) = 1/x says nothing about x < 0).
    slope = np.where(np.isnan(ys), np.nan, slope)
    label = describe(expr, values)
    sites = _sites(module, points)
    return PlotData(str(expr), xs, ys, slope, method, text, values, sites, label, note, channel, *poles)


def _load(module: Any, state: str | Path | StateDict, site: str | None, channel: int | None) -> None:
    """Load ``state`` (at ``site``; its ``channel`` when it holds per-channel values) into ``module``."""
    states = channel_states(module, load_state(state), site)
    if len(states) > 1 and channel is None:
        raise ActlangError(f"the state dict holds {len(states)} channels; pick one with channel= (--channel)")
    if channel is not None and not 0 <= channel < len(states):
        raise ActlangError(f"channel {channel} is out of range: the state dict holds {len(states)}")
    module.load_state_dict(states[channel or 0])


def describe(expr: Expr, values: Mapping[str, np.ndarray]) -> str:
    """The expression with the values drawn: scalars in its ``where`` clause (``where beta =
    1``, the default too), a site's tensor after it (``prelu_0.a = 0.25``, ``ditac_0.theta: 9
    values in [a, b]``)."""
    scalars = {n: float(values[n]) for n in scalar_params(expr) if n in values}
    # Every value is written out, the default 1 too (the canonical text would leave it out).
    text = str(with_inits(expr, dict.fromkeys(scalars, 1.0)))
    if scalars:
        text += " where " + ", ".join(f"{name} = {value:.4g}" for name, value in scalars.items())
    tensors = []
    for name in learned_names(expr):
        value = np.asarray(values.get(name, np.nan), dtype=float)
        if value.size == 1:
            tensors.append(f"{name} = {float(value.reshape(())):.4g}")
        elif not value.any():
            tensors.append(f"{name} = 0")
        else:
            tensors.append(f"{name}: {value.size} values in [{value.min():.3g}, {value.max():.3g}]")
    return text + (f"  ({'; '.join(tensors)})" if tensors else "")


def _check_range(lo: float, hi: float, points: int) -> None:
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ActlangError(f"the range must be two finite numbers A < B, got {lo:g} {hi:g}")
    if not math.isfinite(hi - lo):  # the grid's spacing would overflow (NaN and inf xs)
        raise ActlangError(f"the range {lo:g} {hi:g} is wider than float64 holds (B - A overflows)")
    if not 2 <= points <= MAX_POINTS:
        raise ActlangError(f"points must be between 2 and {MAX_POINTS}, got {points}")


def names(expr: Expr) -> list[str]:
    """The names of ``expr``'s learned values: scalars (``beta``) and site tensors (``prelu_0.a``)."""
    return [*scalar_params(expr), *learned_names(expr)]


def _on_a_sample(
    expr: Expr, module: Any, xs: np.ndarray, seed: int, values: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, str]:
    """f and f′ at each x as one more input of a feature map of :data:`SAMPLE` N(0, 1) inputs.

    Each x gets its own row (sample + x), so it shifts its row's statistics by O(1/SAMPLE) only;
    f′ is ∂f(x)/∂x in that row (autograd), the slope of the curve a reader sees."""
    import torch

    sample = np.random.default_rng(seed).standard_normal(SAMPLE)
    ys, slope = np.empty_like(xs), np.empty_like(xs)
    rows = max(1, 4_000_000 // (SAMPLE + 1))  # a few tens of MB per batch
    for start in range(0, len(xs), rows):
        grid = xs[start : start + rows]
        batch = np.concatenate([np.broadcast_to(sample, (len(grid), SAMPLE)), grid[:, None]], axis=1)
        ys[start : start + len(grid)] = evaluate(expr, batch, values)[:, -1]
        x = torch.tensor(batch, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(module(x)[:, -1].sum(), x, allow_unused=True)
        slope[start : start + len(grid)] = 0.0 if grad is None else grad[:, -1].detach().numpy()
    note = f"with each x one more input of a feature map of {SAMPLE} inputs drawn from N(0, 1) (seed {seed}; " \
           f"mean {sample.mean():.3f}, std {sample.std():.3f})"
    return ys, slope, note


def _slope(
    expr: Expr, module: Any, values: Mapping[str, np.ndarray]
) -> tuple[Callable[[np.ndarray], np.ndarray], str, str | None]:
    """f′ as a function of xs: the symbolic derivative evaluated in float64, else autograd of the module."""
    from actlang.symbolic import derivative

    try:
        derived = derivative(expr, "x")
    except UnsupportedError:  # an opaque or stateful primitive: no closed form in actlang
        return (lambda xs: _autograd(module, xs)), "autograd", None
    wanted = {k: v for k, v in values.items() if k in set(names(derived))}
    return (lambda xs: evaluate(derived, xs, wanted)), "symbolic", str(derived)


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
