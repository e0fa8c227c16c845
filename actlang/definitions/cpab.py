"""CPAB and the DiTAC family (seed 000; docs/ditac.md): learned CPAB warps T^θ of an interval [a, b].

Opaque to sympy (no elementary form). The torch modules are in :mod:`actlang.cpab.module`
(lookup table + linear interpolation, or ``exact=true`` closed form); the float64 numpy
references in :mod:`actlang.cpab.reference` are an independent implementation. Neither this
module nor the references import torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from actlang.definitions.lazy import LazyModule, np
from actlang.registry import REQUIRED, Hyper, Learned, Primitive, define

# The references and the tessellation import numpy and scipy: loaded when first used.
reference: Any = LazyModule("actlang.cpab.reference")

_SOURCE = "Chelly et al., DiTAC: diffeomorphism-based trainable activations via CPAB (seed 000)"


def _common() -> tuple[Hyper, ...]:
    return (
        Hyper("zero_boundary", "bool", True, doc="v = 0 at a and b (then T maps [a, b] onto itself)"),
        Hyper("exact", "bool", False, doc="closed form per input instead of the lookup table"),
        Hyper("init", "choice", "zero", choices=("zero", "prior"), doc="θ = 0 (identity) or a prior sample"),
        Hyper("grid", "int", 2048, low=1, high=1 << 14, doc="intervals of the lookup table"),
        Hyper("prior_length", "float", 0.1, low=0, open_low=True, doc="length scale λ_s of the smoothness prior"),
        Hyper("prior_scale", "float", 1.0, low=0, open_low=True, doc="scale λ_v of the smoothness prior"),
    )


def _cells(default: Any) -> Hyper:
    return Hyper("cells", "int", default, low=2, high=128, doc="equal cells of [a, b]")


def _dim(hp: Mapping[str, Any]) -> int:
    from actlang.cpab.tessellation import theta_dim

    return theta_dim(int(hp["cells"]), bool(hp["zero_boundary"]))


def _interval(hp: Mapping[str, Any]) -> str | None:
    """[a, b]'s problem, if any: a ≥ b, or a width b − a past float64's range (every scale
    (x − a)/(b − a) would be 0 and every flow NaN)."""
    a, b = hp.get("a", 0.0), hp["b"]
    if not a < b:
        return "a must be below b"
    return None if math.isfinite(b - a) else f"b - a must be a finite number (b - a = {b - a} here)"


_THETA = Learned(
    "theta",
    init=lambda hp: np.zeros(_dim(hp)),
    shape=lambda hp: (_dim(hp),),
    doc="CPA velocity-field coordinates (dim cells−1 with zero boundary, cells+1 without)",
)


def _define(name: str, doc: str, factory: str, numpy: Callable[..., Any], hyper: tuple[Hyper, ...]) -> None:
    define(
        Primitive(
            name=name, doc=doc, source=_SOURCE, torch=None, numpy=numpy, sympy=None,
            hyper=hyper + _common(), learned=(_THETA,), module=f"actlang.cpab.module:{factory}",
            check=_interval, tags=frozenset({"cpab"}),
        )
    )


_define(
    "cpab", "T^θ(x) on [a, b] (CPAB warp: flow of a learned continuous piecewise-affine field), x outside",
    "CPAB", reference.cpab, (Hyper("a", "float", REQUIRED), Hyper("b", "float", REQUIRED), _cells(REQUIRED)),
)
_define(
    "ditac", "x̃·Φ(x), x̃ = T^θ(x) on [a, b] and x outside (DiTAC, GELU-like)",
    "DiTAC", reference.ditac, (Hyper("a", "float", -3.0), Hyper("b", "float", 3.0), _cells(10)),
)
_define(
    "ge_ditac", "x·Φ(x) for x < 0, T^θ(x) on [0, b], x above b (GE-DiTAC)",
    "GEDiTAC", reference.ge_ditac, (Hyper("b", "float", 3.0, low=0, open_low=True), _cells(10)),
)
_define(
    "l_ditac", "T^θ(x) on [a, b], leaky_relu(x, slope) outside (L-DiTAC)",
    "LDiTAC", reference.l_ditac,
    (Hyper("a", "float", 0.0), Hyper("b", "float", 3.0), _cells(10), Hyper("slope", "float", 0.01)),
)
_define(
    "inf_ditac", "T^θ(x) on [a, b]; outside, the affine continuation with the end slopes (inf-DiTAC)",
    "InfDiTAC", reference.inf_ditac, (Hyper("a", "float", -3.0), Hyper("b", "float", 3.0), _cells(10)),
)
