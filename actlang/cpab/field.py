"""The CPAB modules' field and its closed forms: θ, the velocity field ``v^θ``, the transformation
``T^θ`` and its inverse, flow and derivative, and the ``exact=true`` activation.

θ is the parameter ``theta``: ``[dim θ]`` shared by all channels, or ``[C, dim θ]`` with one row
per channel along ``channel_dim``. It starts at zero (T = identity) unless ``init=prior``, which
samples ``θ ~ N(0, Σ_θ)`` from the smoothness prior. The domain [a, b] is mapped affinely onto
[0, 1], where the field lives: ``T_ab(x) = a + (b − a)·T((x − a)/(b − a))`` and
``v_ab(x) = (b − a)·v((x − a)/(b − a))``. Closed forms (:mod:`actlang.cpab.integrate`) run in
float64 and the results are cast to the input's dtype.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from actlang.cpab import integrate as closed
from actlang.cpab import tessellation
from actlang.cpab.capture import capturing
from actlang.cpab.lookup import CPAB as MODE_CPAB
from actlang.errors import ActlangError, HyperparameterError


class CPABField(nn.Module):
    """θ, its field and the closed forms of T^θ; :class:`~actlang.cpab.module.CPABActivation`
    adds the lookup path. ``mode``: the variant (``actlang.cpab.lookup``'s codes)."""

    MODE = MODE_CPAB

    def __init__(self, hp: Mapping[str, Any], channels: int | None = None, channel_dim: int = 1) -> None:
        super().__init__()
        self.mode = type(self).MODE  # an instance attribute, so TorchScript sees it
        self.lo = float(hp.get("a", 0.0))
        self.hi = float(hp["b"])
        self.cells = int(hp["cells"])
        self.zero_boundary = bool(hp.get("zero_boundary", True))
        self.exact = bool(hp.get("exact", False))
        self.grid = int(hp.get("grid", 2048))
        self.slope = float(hp.get("slope", 0.0))
        self.channels = int(channels) if channels is not None else 0
        self.channel_dim = int(channel_dim)
        self.prior_length = float(hp.get("prior_length", 0.1))
        self.prior_scale = float(hp.get("prior_scale", 1.0))
        # The compiler's ``fuse`` option ("auto", "on", "off"): the lookup's inductor kernels.
        self.fusion = "auto"
        basis = torch.from_numpy(tessellation.basis(self.cells, self.zero_boundary).copy())
        precision = tessellation.prior_precision(self.cells, self.zero_boundary, self.prior_length, self.prior_scale)
        # Not in the state dict: both follow from the hyperparameters.
        self.register_buffer("basis", basis, persistent=False)
        self.register_buffer("precision", torch.from_numpy(precision.copy()), persistent=False)
        dim = basis.shape[1]
        shape = (self.channels, dim) if self.channels else (dim,)
        theta = torch.zeros(shape)
        if hp.get("init", "zero") == "prior":
            covariance = tessellation.prior_covariance(
                self.cells, self.zero_boundary, self.prior_length, self.prior_scale
            )
            factor = torch.linalg.cholesky(torch.from_numpy(covariance.copy()))
            theta = (torch.randn(shape, dtype=torch.float64) @ factor.T).to(theta.dtype)
            if not bool(torch.isfinite(theta).all()):  # prior_scale past the parameters' dtype
                raise HyperparameterError(
                    f"prior_scale={self.prior_scale:g} draws θ beyond the range of {theta.dtype}",
                    hint="use a prior_scale of a few units (libcpab's default is 1)",
                )
        self.theta = nn.Parameter(theta)

    def _apply(self, fn: Any, recurse: bool = True) -> CPABField:
        """``.to``, ``.half()``, ``.cuda()`` and the like move the basis and the prior's precision
        but keep them float64: they are exact constants of the tessellation, and a basis rounded
        to bfloat16 (8 bits) moved the table's slopes by a tenth (the field is computed in float64
        from θ and the basis, whatever θ's dtype)."""
        constants = {name: self._buffers[name] for name in ("basis", "precision")}
        super()._apply(fn, recurse)
        for name, value in constants.items():
            self._buffers[name] = value.to(self._buffers[name].device)
        return self

    def extra_repr(self) -> str:
        kind = "exact" if self.exact else f"grid={self.grid}"
        per = f", channels={self.channels}" if self.channels else ""
        return f"a={self.lo:g}, b={self.hi:g}, cells={self.cells}, zero_boundary={self.zero_boundary}, {kind}{per}"

    # --- the field -------------------------------------------------------------------------
    def _fields(self, theta: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Slopes and intercepts ``[K, nc]`` in float64 on [0, 1] (K = channels, or 1), of the
        module's θ or of ``theta``."""
        theta = (self.theta if theta is None else theta).to(torch.float64)
        rows = theta if theta.dim() == 2 else theta.unsqueeze(0)
        pairs = (rows @ self.basis.to(torch.float64).t()).view(rows.shape[0], self.cells, 2)
        return pairs[:, :, 0], pairs[:, :, 1]

    def _rows(self, x: Tensor) -> Tensor:
        """x as ``[K, M]`` float64 in [0, 1] coordinates, one row per θ row."""
        u = (x.to(torch.float64) - self.lo) / (self.hi - self.lo)
        if self.channels == 0:
            return u.reshape(1, -1)
        self._check_channels(x)
        return u.movedim(self.channel_dim, 0).reshape(self.channels, -1)

    def _check_channels(self, x: Tensor) -> None:
        if self.channels > 0:
            dim = self.channel_dim if self.channel_dim >= 0 else self.channel_dim + x.dim()
            if dim < 0 or dim >= x.dim() or x.shape[dim] != self.channels:
                raise ActlangError(
                    f"expected {self.channels} channels along dim {self.channel_dim}, got shape {list(x.shape)}"
                )

    def _unrows(self, rows: Tensor, x: Tensor) -> Tensor:
        if self.channels == 0:
            return rows.reshape(x.shape).to(x.dtype)
        moved = list(x.movedim(self.channel_dim, 0).shape)
        return rows.reshape(moved).movedim(0, self.channel_dim).to(x.dtype)

    def velocity(self, x: Tensor) -> Tensor:
        """``v^θ(x) = (b − a)·v((x − a)/(b − a))`` (the end cells' fields extend past [a, b])."""
        slopes, intercepts = self._fields()
        return self._unrows(closed.velocity(self._rows(x), slopes, intercepts) * (self.hi - self.lo), x)

    def transform(self, x: Tensor, t: float = 1.0) -> Tensor:
        """T^θ_t(x) in closed form on [a, b]; x unchanged outside. ``t < 0`` gives the inverse flow."""
        slopes, intercepts = self._fields()
        if t < 0:
            slopes, intercepts, t = -slopes, -intercepts, -t
        u = self._rows(x)
        inside = (u >= 0) & (u <= 1)
        start = torch.where(inside, u, torch.zeros_like(u))
        psi, _ = closed.integrate(start, slopes, intercepts, t, self.zero_boundary, not capturing())
        # x + (b − a)·(ψ − u): exactly x where the field is 0 (θ = 0 is the identity, bit for bit).
        shift = torch.where(inside, (self.hi - self.lo) * (psi - start), torch.zeros_like(u))
        return torch.where(self._inside(x), x + self._unrows(shift, x), x)

    def flow(self, x: Tensor, t: float = 1.0) -> Tensor:
        """The flow of v^θ for time ``t`` (negative: backwards) from every input, [a, b] or not
        (the end cells' fields extend past [a, b])."""
        slopes, intercepts = self._fields()
        if t < 0:
            slopes, intercepts, t = -slopes, -intercepts, -t
        u = self._rows(x)
        psi, _ = closed.integrate(u, slopes, intercepts, t, False)
        return x + self._unrows((self.hi - self.lo) * (psi - u), x)

    def inverse(self, y: Tensor) -> Tensor:
        """(T^θ)⁻¹ = T^{−θ} (the backward flow) on T^θ([a, b]); y unchanged elsewhere.

        With zero boundary T^θ([a, b]) = [a, b]; without, the image can reach past [a, b].
        """
        pre = self.flow(y, -1.0)
        # The ends map back a rounding error away from a and b (more after a strong warp):
        # accept pre-images within √eps·(b − a) of [a, b], and clamp them.
        tol = torch.finfo(y.dtype).eps ** 0.5 * (self.hi - self.lo)
        inside = (pre >= self.lo - tol) & (pre <= self.hi + tol)
        return torch.where(inside, torch.clamp(pre, self.lo, self.hi), y)

    def derivative(self, x: Tensor) -> Tensor:
        """dT^θ/dx = v(T(x))/v(x) on [a, b] (e^{a_c} at fixed points); 1 outside."""
        slopes, intercepts = self._fields()
        u = self._rows(x)
        inside = (u >= 0) & (u <= 1)
        u = torch.where(inside, u, torch.zeros_like(u))
        psi, cell = closed.integrate(u, slopes, intercepts, 1.0, self.zero_boundary)
        slope = closed.derivative(u, psi, cell, slopes, intercepts, 1.0)
        return torch.where(self._inside(x), self._unrows(slope, x), torch.ones_like(x))

    def _inside(self, x: Tensor) -> Tensor:
        return (x >= self.lo) & (x <= self.hi)

    def regularization(self, weight: float = 1.0) -> Tensor:
        """``weight·θᵀ·Σ_θ⁻¹·θ`` (summed over channels): the smoothness prior as a loss term."""
        theta = self.theta.to(torch.float64)
        rows = theta if theta.dim() == 2 else theta.unsqueeze(0)
        return (weight * ((rows @ self.precision.to(torch.float64)) * rows).sum()).to(self.theta.dtype)


    def _exact(self, x: Tensor) -> Tensor:
        if self.mode != 4:  # not inf_ditac
            warped = self.transform(x)  # x outside [a, b]
            if self.mode == 1:  # ditac
                return warped * torch.special.ndtr(x)
            if self.mode == 2:  # ge_ditac
                return torch.where(x < self.lo, x * torch.special.ndtr(x), warped)
            if self.mode == 3:  # l_ditac
                return torch.where(self._inside(x), warped, torch.where(x >= 0, x, self.slope * x))
            return warped
        t_ends, s_ends = self._ends(x)
        below = t_ends[0] + s_ends[0] * (x - self.lo)
        above = t_ends[1] + s_ends[1] * (x - self.hi)
        return torch.where(x < self.lo, below, torch.where(x > self.hi, above, self.transform(x)))

    def _ends(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """T and dT/dx at a and b, shaped to broadcast against x (per channel if any)."""
        slopes, intercepts = self._fields()
        u = torch.tensor([0.0, 1.0], dtype=torch.float64, device=slopes.device).expand(slopes.shape[0], 2)
        psi, cell = closed.integrate(u, slopes, intercepts, 1.0, self.zero_boundary, not capturing())
        slope = closed.derivative(u, psi, cell, slopes, intercepts, 1.0)
        values = (self.lo + (self.hi - self.lo) * psi).to(x.dtype).t()  # [2, K]
        slope = slope.to(x.dtype).t()
        if self.channels:
            shape = [2] + [1] * x.dim()
            shape[1 + self.channel_dim % x.dim()] = self.channels
            return values.reshape(shape), slope.reshape(shape)
        return values[:, 0], slope[:, 0]
