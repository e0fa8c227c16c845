"""``nn.Module``s of the CPAB primitives: ``cpab``, ``ditac``, ``ge_ditac``, ``l_ditac``, ``inf_ditac``.

The compiler builds one per site as ``Factory(hp, channels, channel_dim)``. θ is the parameter
``theta``: ``[dim θ]`` shared by all channels, or ``[C, dim θ]`` with one row per channel along
``channel_dim``. It starts at zero (T = identity) unless ``init=prior``, which samples
``θ ~ N(0, Σ_θ)`` from the smoothness prior.

The domain [a, b] is mapped affinely onto [0, 1], where the field lives:
``T_ab(x) = a + (b − a)·T((x − a)/(b − a))`` and ``v_ab(x) = (b − a)·v((x − a)/(b − a))``.
Training uses the lookup table (:mod:`actlang.cpab.lookup`); ``exact=true`` integrates every
input in closed form (:mod:`actlang.cpab.integrate`). Closed forms run in float64 and the
results are cast to the input's dtype.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from actlang.cpab import integrate as closed
from actlang.cpab import tessellation
from actlang.cpab.lookup import CPAB as MODE_CPAB
from actlang.cpab.lookup import DITAC, GE_DITAC, INF_DITAC, L_DITAC, lookup, pack, pieces
from actlang.cpab.lookup_autograd import CapturedLookup, LookupFunction, fuses, run_forward
from actlang.cpab.nodes import NodeFlow
from actlang.cpab.table import TablePieces, compiled_pieces
from actlang.errors import HyperparameterError


class CPABActivation(nn.Module):
    """T^θ on [a, b] combined with the variant's outer function (``mode``)."""

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
                raise ValueError(
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
        psi, _ = closed.integrate(start, slopes, intercepts, t, self.zero_boundary, not _capturing())
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

    # --- the activation ----------------------------------------------------------------------
    def table(self, dtype: torch.dtype = torch.float32, theta: Tensor | None = None) -> Tensor:
        """Exact displacements T^θ(node) − node at the ``grid + 1`` nodes of [a, b]:
        ``[grid + 1]`` or ``[C, grid + 1]``."""
        slopes, intercepts = self._fields(theta)
        nodes = torch.linspace(0.0, 1.0, self.grid + 1, dtype=torch.float64, device=slopes.device)
        points = nodes.expand(slopes.shape[0], -1)
        if torch.jit.is_scripting() or _capturing():  # plain ops, differentiable by autograd
            psi, _ = closed.integrate(points, slopes, intercepts, 1.0, self.zero_boundary, not _capturing())
        else:  # the same steps with a closed-form gradient: a fraction of autograd's overhead
            psi = _node_flow(slopes, intercepts, points, self.zero_boundary)
        values = ((self.hi - self.lo) * (psi - nodes)).to(dtype)
        return values if self.channels else values[0]

    def forward(self, x: Tensor) -> Tensor:
        if self.exact:
            return self._exact(x)
        self._check_channels(x)
        closed = not self.zero_boundary
        # l_ditac's outside is one line per side only when a ≤ 0 ≤ b.
        masked = self.mode == 3 and not (self.lo <= 0.0 <= self.hi)
        if torch.jit.is_scripting():
            c0, c1 = self._pieces(x.dtype)
            return lookup(x, c0, c1, self.lo, self.hi, self.mode, self.slope, closed, masked, self.channel_dim)
        if _capturing():
            # Plain differentiable ops: captured graphs (torch.export, torch.compile, jit.trace)
            # must not hold the inductor kernels (no double compilation), and function transforms
            # (vmap, grad, jacrev, jacfwd) batch and differentiate them like any torch code.
            return self._captured(x, closed, masked)
        return self._fast(x, closed, masked)

    @torch.jit.unused
    def _captured(self, x: Tensor, closed: bool, masked: bool) -> Tensor:
        c0, c1 = self._captured_pieces(x.dtype)
        spec = (self.lo, self.hi, self.mode, self.slope, closed, masked, self.channel_dim)
        if _compiling_only():  # torch.compile: a backward that inductor fuses into one loop
            return CapturedLookup.apply(x, c0, c1, *spec)
        return lookup(x, c0, c1, *spec)

    @torch.jit.unused
    def _captured_pieces(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """The pieces in a captured graph: constants within :meth:`frozen`; under torch.compile one
        opaque custom op (:func:`~actlang.cpab.table.compiled_pieces`: dynamo would otherwise trace
        the closed-form flow into thousands of graph nodes); elsewhere (torch.export, jit.trace,
        function transforms) the torch path, which needs nothing of actlang to run."""
        frozen = self.__dict__.get("_frozen_pieces")
        if frozen is not None:
            return frozen
        if _compiling_only():
            spec = (self.lo, self.hi, self.grid, self.mode, self.slope, self.zero_boundary)
            keep = torch.is_grad_enabled() and self.theta.requires_grad  # the backward will want the partials
            c0, c1, _ = compiled_pieces(self.theta, self.basis, *spec, dtype, keep)
            return (c0, c1) if self.channels else (c0[0], c1[0])
        return self._torch_pieces(self.theta, dtype)

    @torch.jit.unused
    @contextlib.contextmanager
    def frozen(self, dtype: torch.dtype) -> Iterator[None]:
        """Within the block, captured graphs read the lookup pieces as constants computed now
        (not θ → table → pieces in the graph): for inference-only files such as ONNX, whose
        runtimes lack some ops of the table's computation (a ``Where`` over booleans)."""
        with torch.no_grad():
            self.__dict__["_frozen_pieces"] = self._torch_pieces(self.theta, dtype)
        try:
            yield
        finally:
            self.__dict__.pop("_frozen_pieces", None)

    def _pieces(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """The affine pieces of the lookup path, from the exact table (differentiable in θ)."""
        if torch.jit.is_scripting() or _capturing():
            return self._torch_pieces(self.theta, dtype)
        return self._numpy_pieces(dtype)

    def _torch_pieces(self, theta: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        c0, c1 = pieces(self.table(torch.float64, theta), self.lo, self.hi, self.mode, self.slope)
        return c0.to(dtype), c1.to(dtype)

    @torch.jit.unused
    def _torch_rows(self, theta: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """:meth:`_torch_pieces` with one row per channel (one row without channels)."""
        return tuple(c.reshape(-1, c.shape[-1]) for c in self._torch_pieces(theta, dtype))  # type: ignore[return-value]

    @torch.jit.unused
    def _numpy_pieces(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """The same pieces from :class:`~actlang.cpab.table.TablePieces` (numpy inside)."""
        basis = self.basis.detach().to("cpu", torch.float64).numpy()
        spec = (basis, self.lo, self.hi, self.grid, self.mode, self.slope, self.zero_boundary)
        c0, c1 = TablePieces.apply(self.theta, spec, dtype, lambda theta: self._torch_rows(theta, dtype))
        return (c0, c1) if self.channels else (c0[0], c1[0])

    @torch.jit.unused
    def _fast(self, x: Tensor, closed: bool, masked: bool) -> Tensor:
        c0, c1, tables = self._cached_pieces(x)
        spec = (self.lo, self.hi, self.mode, self.slope, closed, masked, self.channel_dim)
        fused = self.fusion if fuses(x, self.fusion, tables, spec) else "off"  # "auto": built in the background
        if not (torch.is_grad_enabled() and (x.requires_grad or c0.requires_grad)):
            return run_forward(x, tables, spec, fused)  # inference: no autograd node to build
        return LookupFunction.apply(x, c0, c1, tables, *spec, fused)

    @torch.jit.unused
    def _cached_pieces(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(c0, c1, pack(c0, c1))``, reused while θ is unchanged and no gradient w.r.t. θ is
        wanted (inference): at batch 1 a model's activations are small, and the table, even
        packed (four small ops), is a good part of a call.

        θ's version counter moves on every in-place update (optimizer steps, load_state_dict).
        """
        if (torch.is_grad_enabled() and self.theta.requires_grad) or torch.compiler.is_compiling():
            c0, c1 = self._pieces(x.dtype)
            return c0, c1, pack(c0.detach(), c1.detach())
        key = (self.theta._version, self.theta.data_ptr(), x.dtype, x.device)
        cached = self.__dict__.get("_pieces_cache")
        if cached is None or cached[0] != key:
            with torch.no_grad():
                c0, c1 = self._pieces(x.dtype)
                cached = (key, (c0, c1, pack(c0, c1)))
            self.__dict__["_pieces_cache"] = cached
        return cached[1]

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
        psi, cell = closed.integrate(u, slopes, intercepts, 1.0, self.zero_boundary, not _capturing())
        slope = closed.derivative(u, psi, cell, slopes, intercepts, 1.0)
        values = (self.lo + (self.hi - self.lo) * psi).to(x.dtype).t()  # [2, K]
        slope = slope.to(x.dtype).t()
        if self.channels:
            shape = [2] + [1] * x.dim()
            shape[1 + self.channel_dim % x.dim()] = self.channels
            return values.reshape(shape), slope.reshape(shape)
        return values[:, 0], slope[:, 0]


@torch.jit.unused
def _node_flow(slopes: Tensor, intercepts: Tensor, points: Tensor, bounded: bool) -> Tensor:
    return NodeFlow.apply(slopes, intercepts, points, 1.0, bounded)


def _capturing() -> bool:
    """True while a graph is captured (torch.compile, torch.export, torch.jit.trace) or a
    function transform runs (torch.func.vmap, grad, jacrev, jvp): the module then runs plain torch
    ops, without data-dependent early exits (they would bake one input's path into the graph or
    read a batched tensor's values), the numpy table or the hand-written autograd functions."""
    if torch.jit.is_scripting():
        return False
    return _compiling()


@torch.jit.unused
def _compiling() -> bool:
    return torch.compiler.is_compiling() or torch.jit.is_tracing() or _transformed()


@torch.jit.unused
def _compiling_only() -> bool:
    """True under torch.compile, not torch.export (whose files must run without actlang's custom
    ops) nor a function transform."""
    return torch.compiler.is_compiling() and not torch.compiler.is_exporting() and not _transformed()


@torch.jit.unused
def _transformed() -> bool:
    """True inside a torch.func transform (functorch keeps a per-thread interpreter stack)."""
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return bool(active()) if active is not None else False


class CPAB(CPABActivation):
    """``cpab``: T^θ on [a, b], identity outside."""

    MODE = MODE_CPAB


class DiTAC(CPABActivation):
    """``ditac``: x̃·Φ(x), x̃ = T^θ(x) on [a, b] and x outside."""

    MODE = DITAC


class GEDiTAC(CPABActivation):
    """``ge_ditac``: x·Φ(x) below 0, T^θ on [0, b], x above b."""

    MODE = GE_DITAC

    def __init__(self, hp: Mapping[str, Any], channels: int | None = None, channel_dim: int = 1) -> None:
        super().__init__({**hp, "a": 0.0}, channels, channel_dim)


class LDiTAC(CPABActivation):
    """``l_ditac``: T^θ on [a, b], leaky_relu(x, slope) outside."""

    MODE = L_DITAC


class InfDiTAC(CPABActivation):
    """``inf_ditac``: T^θ on [a, b], affine continuation with the end slopes outside."""

    MODE = INF_DITAC
