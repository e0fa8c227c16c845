"""CPAB transformations (continuous piecewise-affine velocity fields, integrated in closed form)
and the DiTAC activations built on them (seed 000).

- :mod:`actlang.cpab.tessellation` — constraint matrix, orthonormal basis, smoothness prior (numpy).
- :mod:`actlang.cpab.integrate` — closed-form integration, velocity and dT/dx (torch).
- :mod:`actlang.cpab.lookup` — the grid + linear-interpolation fast path with its own backward.
- :mod:`actlang.cpab.module` — the ``nn.Module`` of each primitive.
- :mod:`actlang.cpab.reference` — an independent float64 numpy implementation.

Importing this package does not import torch (``actlang.evaluate`` relies on that).
"""

from __future__ import annotations

from typing import Any


def regularization(model: Any, weight: float = 1.0) -> Any:
    """``weight·Σ θᵀ·Σ_θ⁻¹·θ`` over every CPAB-based submodule of ``model`` (a scalar tensor).

    Add it to the training loss; it is 0 for a model without CPAB primitives.
    """
    import torch

    from actlang.cpab.module import CPABActivation

    terms = [m.regularization(weight) for m in model.modules() if isinstance(m, CPABActivation)]
    return torch.stack(terms).sum() if terms else torch.zeros(())
