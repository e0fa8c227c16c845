"""ASH, F-ASH and L-ASH (seed 001; docs/research.md): x·σ(2α(x − μ − z·s)) with per-sample statistics.

Not pointwise: μ and s are the mean and population standard deviation of each sample's whole
feature map (every axis but the batch axis 0). The torch site modules are in
:mod:`actlang.research.ash`; the float64 numpy references below never import torch.
"""

from __future__ import annotations

from typing import Any

from actlang.definitions.lazy import np, special
from actlang.errors import EvaluationError
from actlang.registry import Hyper, Learned, Primitive, define

_SOURCE = "Lee et al., ASH: adaptive swish with learned percentile thresholds (seed 001)"


def z_from_k(k: float) -> float:
    """Φ⁻¹(1 − k/100): the z-score above which k % of a standard normal sample lies, as
    −Φ⁻¹(k/100) (the same by symmetry): 1 − k/100 rounds to 1 below k ≈ 1e-14, where Φ⁻¹ is +inf."""
    return float(-special.ndtri(k / 100.0))


def reference(x: Any, z: Any, alpha: Any, k: float, slope: float = 0.0, name: str = "ash") -> np.ndarray:
    """Float64 ASH as the paper writes it: x·σ(2α(x − μ − z·s)) times (g + slope·(1 − g)).

    μ, s: per-sample mean and population std (ddof 0, no epsilon) over all axes but 0.
    ``z``/``alpha`` are scalars or one value per channel along axis 1.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise EvaluationError(
            f"{name} uses per-sample statistics and needs a batch dimension: expected an input of "
            f"rank >= 2 (batch first, e.g. NC or NCHW), got rank {x.ndim}"
        )
    flat = x.reshape(x.shape[0], -1)
    stat_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    mu = flat.mean(axis=1).reshape(stat_shape)
    sd = flat.std(axis=1).reshape(stat_shape)
    z, alpha = (_channel_axis(np.asarray(v, dtype=np.float64), x.ndim) for v in (z, alpha))
    gate = special.expit(2.0 * alpha * (x - mu - z * sd))
    return x * (gate + slope * (1.0 - gate))


def _channel_axis(value: np.ndarray, ndim: int) -> np.ndarray:
    return value if value.ndim == 0 else value.reshape((1, -1) + (1,) * (ndim - 2))


def _fixed(x: Any, alpha: Any, k: float) -> np.ndarray:
    return reference(x, z_from_k(k), alpha, k, name="f_ash")


def _leaky(x: Any, z: Any, alpha: Any, k: float, slope: float) -> np.ndarray:
    return reference(x, z, alpha, k, slope, name="l_ash")


_K = Hyper("k", "float", 50.0, low=0, high=100, open_low=True, open_high=True,
           doc="percentage of inputs kept (z starts at Φ⁻¹(1 − k/100))")
_Z = Learned("z", lambda hp: z_from_k(float(hp["k"])), doc="threshold in standard deviations above the mean")
_ALPHA = Learned("alpha", 1.0, doc="gate sharpness")

define(Primitive(
    name="ash", doc="x·σ(2α(x − μ − z·s)); μ, s per sample; z (init Φ⁻¹(1 − k/100)) and α learned",
    source=_SOURCE, torch=None, numpy=reference, hyper=(_K,), learned=(_Z, _ALPHA), pointwise=False,
    module="actlang.research.ash:Ash",
))
define(Primitive(
    name="f_ash", doc="ASH with z fixed at Φ⁻¹(1 − k/100); α learned", source=_SOURCE, torch=None,
    numpy=_fixed, hyper=(_K,), learned=(_ALPHA,), pointwise=False, module="actlang.research.ash:FixedAsh",
))
define(Primitive(
    name="l_ash", doc="leaky ASH: x·(g + slope·(1 − g)), g = σ(2α(x − μ − z·s))", source=_SOURCE, torch=None,
    numpy=_leaky, hyper=(_K, Hyper("slope", "float", 0.01, low=0, high=1, doc="leak below the threshold")),
    learned=(_Z, _ALPHA), pointwise=False, module="actlang.research.ash:LeakyAsh",
))
