"""Torch kernels that a primitive's template calls when one expression will not do.

Generated code sees this module as ``kernels`` (``kernels.tanhshrink(x)``). Each function is
TorchScript-compatible (scripting compiles it into the exported file, so loading needs no
actlang) and traceable by ``torch.export``, ONNX export and ``torch.compile``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# eˣ − 1, ELU and SELU in forms that TorchInductor keeps accurate near 0 where it compiles them.
from actlang.inductor_math import elu, expm1, selu

__all__ = ["elu", "expm1", "i1e", "rrelu", "selu", "tanhshrink"]


def tanhshrink(x: Tensor) -> Tensor:
    """``x − tanh(x)``, accurate near 0: its Taylor series ``x³/3 − 2x⁵/15 + 17x⁷/315 − ...`` below
    a cutoff c, ``F.tanhshrink`` above.

    ``x − tanh(x)`` cancels for small |x|: ``F.tanhshrink`` is exactly 0 below |x| ≈ 3e-4 in
    float32, where the value is ~1e-11 (so ``reciprocal(tanhshrink(x))`` became inf); above c
    the cancellation costs at most 3·eps/c² relative. Seven terms are exact to float64 rounding
    below c = 0.1 (the next is < 2e-17 relative) and to float32 rounding below c = 0.3 (< 1e-10),
    so c is 0.1 in float64 and 0.3 otherwise. The series sees x clamped to ±c, so its discarded
    branch can neither overflow nor give ``torch.where`` a NaN gradient.
    """
    cutoff = 0.1 if x.dtype == torch.float64 else 0.3
    small = torch.clamp(x, -cutoff, cutoff)
    square = small * small
    series = 929569.0 / 638512875.0
    series = -21844.0 / 6081075.0 + square * series
    series = 1382.0 / 155925.0 + square * series
    series = -62.0 / 2835.0 + square * series
    series = 17.0 / 315.0 + square * series
    series = -2.0 / 15.0 + square * series
    series = 1.0 / 3.0 + square * series
    return torch.where(x.abs() < cutoff, small * square * series, F.tanhshrink(x))


def rrelu(x: Tensor, lower: float, upper: float, training: bool) -> Tensor:
    """``F.rrelu``; in training, float16 on CPU (which has no kernel for it) goes through float32.
    In evaluation it is ``leaky_relu`` with the mean slope, as ATen computes it, called as such:
    function transforms (vmap, jacfwd) have no rule for ``rrelu`` even where it draws nothing."""
    if not training:
        return F.leaky_relu(x, (lower + upper) / 2.0)
    if x.dtype == torch.float16 and x.device.type == "cpu":
        return F.rrelu(x.float(), lower, upper, training).to(x.dtype)
    return F.rrelu(x, lower, upper, training)


def i1e(x: Tensor) -> Tensor:
    """``torch.special.i1e``; float16 and bfloat16 go through float32 (CPU has no half backward)."""
    if x.dtype == torch.float16 or x.dtype == torch.bfloat16:
        return torch.special.i1e(x.float()).to(x.dtype)
    return torch.special.i1e(x)
