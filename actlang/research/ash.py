"""ASH, the Adaptive SwisH of Lee et al. (seed 001): a learned percentile threshold per layer.

``ash[k](x) = x · σ(2α(x − μ − z·s))`` where μ and s are the mean and population standard
deviation of each sample's whole feature map (every dim but the batch dim 0), z starts at
Φ⁻¹(1 − k/100) (k = percentage of inputs kept: k = 10 keeps roughly the top 10 %) and α at 1.
``f_ash`` keeps z fixed; ``l_ash`` leaks ``slope·x`` where plain ASH outputs ~0:
``l_ash(x) = x · (g + slope·(1 − g))`` with g the same gate.

This is *not* "activation shaping" (ASH, Djurisic et al. 2023, an OOD-detection pruning rule).

Gradients flow through μ and s, as in the paper's TF1 code. s = sqrt(var) is exact in the forward
(s = 0 for a constant map is harmless there), but d sqrt(v)/dv is infinite at v = 0 and would turn
the zero gradient of a constant map into NaN. :func:`safe_sqrt` takes the square root only where
v > 0 and uses 0 (value and gradient) at v = 0 — an epsilon of width zero, so values equal the
paper's formula exactly, constant maps included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from scipy import special
from torch import nn

from actlang.definitions.ash import z_from_k
from actlang.errors import EvaluationError
from actlang.research.broadcast import along


def safe_sqrt(v: torch.Tensor) -> torch.Tensor:
    """sqrt(v) for v ≥ 0 with value and gradient 0 at v = 0 (never inf·0 = NaN in backward)."""
    positive = v > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, v, torch.ones_like(v))), torch.zeros_like(v))


def _check_rank(x: torch.Tensor) -> None:
    if x.dim() < 2:  # a plain raise with a fixed text, so that the module stays scriptable
        raise EvaluationError(
            "ash, f_ash and l_ash use per-sample statistics and need a batch dimension: "
            "expected an input of rank >= 2 (batch first, e.g. NC or NCHW), got rank " + str(x.dim())
        )


class Ash(nn.Module):
    """One ``ash`` site: learned ``z`` (init Φ⁻¹(1 − k/100)) and ``alpha`` (init 1).

    With ``channels=C`` both hold one value per channel along ``channel_dim``; the statistics
    stay per sample over the whole feature map either way.
    """

    learn_z = True

    def __init__(self, hp: Mapping[str, Any], channels: int | None = None, channel_dim: int = 1) -> None:
        super().__init__()
        shape = () if channels is None else (channels,)
        z = torch.full(shape, z_from_k(float(hp["k"])), dtype=torch.get_default_dtype())
        if self.learn_z:
            self.z = nn.Parameter(z)
        else:
            self.register_buffer("z", z)
        self.alpha = nn.Parameter(torch.ones(shape, dtype=torch.get_default_dtype()))
        self.slope = float(hp.get("slope", 0.0))
        self.channel_dim = channel_dim

    def extra_repr(self) -> str:
        return f"k={100 * (1 - special.ndtr(self.z.detach().double().mean().item())):.3g}%"

    def threshold(self, x: torch.Tensor) -> torch.Tensor:
        """μ + z·s per sample (and per channel when z is), shaped to broadcast against ``x``."""
        _check_rank(x)
        dims = list(range(1, x.dim()))
        # Half-precision statistics overflow: a float16 sample with a standard deviation above
        # 256 has a variance past 65,504 (inf, and NaN outputs). Computed in float32 at least,
        # the threshold comes back in x's dtype, where the gate is computed.
        wide = x.float() if x.dtype == torch.float16 or x.dtype == torch.bfloat16 else x
        var, mean = torch.var_mean(wide, dim=dims, correction=0, keepdim=True)
        std = safe_sqrt(var)
        return (mean + along(self.z, wide, self.channel_dim) * std).to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_rank(x)
        gate = torch.sigmoid(2.0 * along(self.alpha, x, self.channel_dim) * (x - self.threshold(x)))
        if self.slope != 0.0:
            gate = gate + self.slope * (1.0 - gate)
        return x * gate


class FixedAsh(Ash):
    """One ``f_ash`` site: z fixed at Φ⁻¹(1 − k/100) (a buffer, saved but never trained)."""

    learn_z = False


class LeakyAsh(Ash):
    """One ``l_ash`` site: ASH whose closed gate leaks ``slope·x``."""

