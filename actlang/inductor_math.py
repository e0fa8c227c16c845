"""Elementary functions in forms that TorchInductor compiles accurately.

Inductor's vectorised CPU code (torch 2.13) computes ``expm1(x)`` as ``exp(x) − 1``, which loses
every digit near 0: compiled, ``expm1(−1e-8)`` is 0 in float32 (``F.elu`` and ``F.celu``, which
inductor decomposes into expm1, inherit it), and 1e-7 comes out as 1.19e-7. Code that inductor
compiles (a ``torch.compile``d model, the kernels actlang builds, ``torch.export``) gets the form
below instead; eager code and TorchScript keep ATen's kernel, which is accurate and one pass.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

# Below this |x| the series; above, exp(x) − 1 costs at most e^c/(e^c − 1) < 2.6 units in the last
# place (x = c), and less further out.
SERIES_CUTOFF = 0.5


def expm1(x: Tensor) -> Tensor:
    """``eˣ − 1``, accurate near 0 also where inductor compiles it (:func:`expm1_series`)."""
    if torch.jit.is_scripting():
        return torch.expm1(x)
    return _expm1(x)


@torch.jit.unused
def _expm1(x: Tensor) -> Tensor:
    return expm1_series(x) if torch.compiler.is_compiling() else torch.expm1(x)


def expm1_series(x: Tensor) -> Tensor:
    """``eˣ − 1`` in plain operations that inductor keeps accurate: the Taylor series
    ``x·(1 + x/2! + x²/3! + …)`` for |x| < 0.5, to x¹⁶/16! in float64 (the next term is below
    1e-21 relative) and x⁸/8! otherwise (below 6e-10), and ``exp(x) − 1`` above. The series sees 0
    in place of larger x, so its discarded branch is finite and gives ``torch.where`` no NaN
    gradient. Signed zeros, ±inf and NaN come out as ``torch.expm1`` gives them."""
    coefficients = _SERIES64 if x.dtype == torch.float64 else _SERIES32
    near = x.abs() < SERIES_CUTOFF
    small = torch.where(near, x, 0.0)
    ratio = coefficients[-1] * small + coefficients[-2]  # (eˣ − 1)/x by Horner's rule
    for coefficient in reversed(coefficients[:-2]):
        ratio = ratio * small + coefficient
    return torch.where(near, small * ratio, torch.exp(x) - 1.0)


# 1/(k + 1)! for k = 0, 1, …: the coefficients of (eˣ − 1)/x.
_SERIES64 = [1.0 / math.factorial(k + 1) for k in range(16)]
_SERIES32 = _SERIES64[:8]


def elu(x: Tensor, alpha: float) -> Tensor:
    """``F.elu``; where inductor compiles it, ``x`` for x > 0 and ``α·expm1(x)`` below with
    :func:`expm1_series` (inductor's own decomposition of ``F.elu``, with the accurate expm1: the
    gradient at 0 is α, as ATen's)."""
    if torch.jit.is_scripting():
        return F.elu(x, alpha)
    return _elu(x, alpha)


@torch.jit.unused
def _elu(x: Tensor, alpha: float) -> Tensor:
    if not torch.compiler.is_compiling():
        return F.elu(x, alpha)
    return torch.where(x > 0, x, alpha * expm1_series(torch.clamp(x, max=0.0)))


# F.selu's constants (ATen's).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: Tensor) -> Tensor:
    """``F.selu``; where inductor compiles it, ``scale·elu[α](x)`` through :func:`elu`'s form."""
    if torch.jit.is_scripting():
        return F.selu(x)
    return _selu(x)


@torch.jit.unused
def _selu(x: Tensor) -> Tensor:
    if not torch.compiler.is_compiling():
        return F.selu(x)
    return SELU_SCALE * _elu(x, SELU_ALPHA)
