"""The standard normal's Φ and φ for DiTAC's outer function, in forms TorchInductor vectorises.

``Φ(x) = erfc(−x/√2)/2`` (no cancellation in the lower tail, where ``(1 + erf(x/√2))/2`` is
``1 − 1 = 0`` below x ≈ −8.5 in float64 while ``Φ(−10) = 7.6e−24``) and ``φ(x) = e^{−x²/2}/√(2π)``.

Eager code, TorchScript and float64 use ATen's erfc (one vectorised kernel). Code that inductor
compiles below float64 (the lookup's kernels, a ``torch.compile``d model) uses
:func:`erfc_float32` instead, because inductor's own erfc is a scalar loop (3.5× slower per
value): with ``z = |x|/√2`` and ``t = 1/(1 + z/2)``,

    erfc(z) = e^{−z²} · t·Q(t),    Q(t) = erfcx(z)/t

with Q a degree-10 polynomial (a relative-error fit on t ∈ [0, 1]: 1.3e-8 in exact arithmetic).
The exponential's argument does not wait for the polynomial, so the two run side by side (the
earlier form ``t·exp(P(t) − z²)`` chained them), and ``e^{−z²}`` is φ's exponential as well:
:func:`normal_cdf_and_density`, which the backward kernels call, takes one exponential for both.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# Q(t) ≈ erfcx(2/t − 2)/t, highest power first (Q(0) = 1/(2√π), Q(1) = 1): within 1.3e-8
# relative on [0, 1]; float32 evaluation by Horner's rule adds about 1.6 units in the last place.
_ERFCX_OVER_T = (
    0.0423492283, -0.230849757, 0.486180448, -0.447000201, 0.127120058, -0.0572521904, 0.0930075709,
    0.175375467, 0.246880721, 0.282093847, 0.282094795,
)


def normal_cdf(x: Tensor) -> Tensor:
    """Φ(x), accurate (relatively) in the lower tail; ``x``'s dtype (float16/bfloat16 computed in
    float32, whose tail theirs would lose)."""
    if torch.jit.is_scripting() or x.dtype == torch.float64:
        return torch.special.erfc(x * -0.7071067811865476).mul_(0.5)  # 1/√2 (a literal for TorchScript)
    return _compiled_normal_cdf(x)


def normal_cdf_and_density(x: Tensor) -> tuple[Tensor, Tensor]:
    """``(Φ(x), φ(x))``, both computed in float32 at least (float16/bfloat16 round x² too coarsely
    for the exponential); where inductor compiles them below float64, with one exponential."""
    if torch.jit.is_scripting() or x.dtype == torch.float64:
        return normal_cdf(x), torch.exp(x * x * -0.5) * INV_SQRT_2PI
    return _float32_normal_parts(x)


@torch.jit.unused
def _float32_normal_parts(x: Tensor) -> tuple[Tensor, Tensor]:
    if torch.compiler.is_compiling():
        return _compiled_normal_parts(x)
    wide = x.float()
    return normal_cdf(x), (torch.exp(wide * wide * -0.5) * INV_SQRT_2PI).to(x.dtype)


@torch.jit.unused
def _compiled_normal_cdf(x: Tensor) -> Tensor:
    if not torch.compiler.is_compiling():
        return torch.special.erfc(x.float() * -0.7071067811865476).mul_(0.5).to(x.dtype)
    return _compiled_normal_parts(x)[0]


@torch.jit.unused
def _compiled_normal_parts(x: Tensor) -> tuple[Tensor, Tensor]:
    """Φ and φ from ``erfc(|z|) = e^{−z²}·t·Q(t)``, ``z = −x/√2`` (``erfc(z) = 2 − erfc(|z|)`` below 0)."""
    z = x.float() * -0.7071067811865476
    tail, gauss = _erfc_parts(torch.abs(z))
    half = tail * 0.5
    cdf = torch.where(z >= 0, half, 1.0 - half)
    return cdf.to(x.dtype), (gauss * INV_SQRT_2PI).to(x.dtype)


def erfc_float32(z: Tensor) -> Tensor:
    """erfc(z) for z ≥ 0: within a relative 4e-7 for z < 1, then about 5e-8·z², the rounding of
    z² passed through the exponential (4e-6 at z = 9; the earlier ``t·exp(P(t) − z²)`` measured the
    same); underflows to 0 past z ≈ 9.3, as float32's erfc does."""
    return _erfc_parts(z)[0]


def _erfc_parts(z: Tensor) -> tuple[Tensor, Tensor]:
    """``(erfc(z), e^{−z²})`` for z ≥ 0 (see the module's docstring)."""
    t = 1.0 / (1.0 + 0.5 * z)
    scaled = torch.full_like(z, _ERFCX_OVER_T[0])
    for coefficient in _ERFCX_OVER_T[1:]:
        scaled = scaled * t + coefficient
    gauss = torch.exp(-(z * z))
    return t * scaled * gauss, gauss
