"""``nn.Module``s of the CPAB primitives: ``cpab``, ``ditac``, ``ge_ditac``, ``l_ditac``, ``inf_ditac``.

The compiler builds one per site as ``Factory(hp, channels, channel_dim)``. θ, the field and the
closed forms (``exact=true``) are :class:`~actlang.cpab.field.CPABField`'s; this module adds the
training path: the lookup table (:mod:`actlang.cpab.lookup`), its pieces from θ (numpy inside,
:mod:`actlang.cpab.table`), the inductor kernels (:mod:`actlang.cpab.lookup_autograd`), and what
captured graphs and TorchScript run instead.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor

from actlang import kernels
from actlang.cpab import integrate as closed
from actlang.cpab.capture import capturing, compiling_only, valueless
from actlang.cpab.field import CPABField
from actlang.cpab.flow_kernel import mode as flow_mode
from actlang.cpab.lookup import CPAB as MODE_CPAB
from actlang.cpab.lookup import DITAC, GE_DITAC, INF_DITAC, L_DITAC, lookup, pack, pieces
from actlang.cpab.lookup_autograd import (
    CapturedLookup,
    LookupFunction,
    forward_key,
    fuses,
    kernel_calls,
    run_forward,
    run_loaded_forward,
)
from actlang.cpab.nodes import NodeFlow
from actlang.cpab.table import TablePieces, compiled_pieces
from actlang.kernels import MIN_NUMEL


class CPABActivation(CPABField):
    """T^θ on [a, b] combined with the variant's outer function (``mode``), through the lookup table."""

    # --- the activation ----------------------------------------------------------------------
    def table(self, dtype: torch.dtype = torch.float32, theta: Tensor | None = None) -> Tensor:
        """Exact displacements T^θ(node) − node at the ``grid + 1`` nodes of [a, b]:
        ``[grid + 1]`` or ``[C, grid + 1]``."""
        slopes, intercepts = self._fields(theta)
        nodes = torch.linspace(0.0, 1.0, self.grid + 1, dtype=torch.float64, device=slopes.device)
        points = nodes.expand(slopes.shape[0], -1)
        if torch.jit.is_scripting() or capturing() or valueless(slopes):  # plain ops, differentiable by autograd
            psi, _ = closed.integrate(points, slopes, intercepts, 1.0, self.zero_boundary, not capturing())
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
        if capturing() or valueless(x) or valueless(self.theta):
            # Plain differentiable ops: captured graphs (torch.export, torch.compile, jit.trace)
            # must not hold the inductor kernels (no double compilation), function transforms
            # (vmap, grad, jacrev, jacfwd) batch and differentiate them like any torch code, and
            # meta or fake tensors (shapes only) have no values for numpy or a kernel to read.
            return self._captured(x, closed, masked)
        return self._fast(x, closed, masked)

    @torch.jit.unused
    def _captured(self, x: Tensor, closed: bool, masked: bool) -> Tensor:
        c0, c1 = self._captured_pieces(x.dtype)
        spec = (self.lo, self.hi, self.mode, self.slope, closed, masked, self.channel_dim)
        if compiling_only():  # torch.compile: a backward that inductor fuses into one loop
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
        if compiling_only():
            spec = (self.lo, self.hi, self.grid, self.mode, self.slope, self.zero_boundary)
            keep = torch.is_grad_enabled() and self.theta.requires_grad  # the backward will want the partials
            flow = flow_mode(self.fusion, MIN_NUMEL)  # the model is being compiled: worth a kernel
            c0, c1, _ = compiled_pieces(self.theta, self.basis, *spec, dtype, keep, flow)
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

    def _pieces(self, dtype: torch.dtype, flow: str = "off") -> tuple[Tensor, Tensor]:
        """The affine pieces of the lookup path, from the exact table (differentiable in θ);
        ``flow``: the flow kernel's mode (:func:`~actlang.cpab.flow_kernel.mode`)."""
        if torch.jit.is_scripting() or capturing():
            return self._torch_pieces(self.theta, dtype)
        return self._numpy_pieces(dtype, flow)

    def _torch_pieces(self, theta: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        c0, c1 = pieces(self.table(torch.float64, theta), self.lo, self.hi, self.mode, self.slope)
        return c0.to(dtype), c1.to(dtype)

    @torch.jit.unused
    def _torch_rows(self, theta: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """:meth:`_torch_pieces` with one row per channel (one row without channels)."""
        return tuple(c.reshape(-1, c.shape[-1]) for c in self._torch_pieces(theta, dtype))  # type: ignore[return-value]

    @torch.jit.unused
    def _numpy_pieces(self, dtype: torch.dtype, flow: str = "off") -> tuple[Tensor, Tensor]:
        """The same pieces from :class:`~actlang.cpab.table.TablePieces` (numpy inside)."""
        basis = self.basis.detach().to("cpu", torch.float64).numpy()
        spec = (basis, self.lo, self.hi, self.grid, self.mode, self.slope, self.zero_boundary)
        c0, c1 = TablePieces.apply(self.theta, spec, dtype, lambda theta: self._torch_rows(theta, dtype), flow)
        return (c0, c1) if self.channels else (c0[0], c1[0])

    @torch.jit.unused
    def _fast(self, x: Tensor, closed: bool, masked: bool) -> Tensor:
        spec = (self.lo, self.hi, self.mode, self.slope, closed, masked, self.channel_dim)
        if self.fusion == "on":
            self._build_together(x, spec)
        c0, c1, tables = self._cached_pieces(x, self._flow(x, spec))
        if torch.is_grad_enabled() and (x.requires_grad or c0.requires_grad):
            fused = self.fusion if fuses(x, self.fusion, tables, spec) else "off"  # "auto": built in the background
            return LookupFunction.apply(x, c0, c1, tables, *spec, fused)
        return self._inference(x, tables, spec)  # no autograd node to build

    @torch.jit.unused
    def _build_together(self, x: Tensor, spec: tuple) -> None:
        """``fuse=True``: the lookup kernels this call will run (the forward, and the backward with
        or without the tables' weights) built side by side and waited for once, not one after
        another as each is first called. The table flow's kernel is not waited for
        (:func:`~actlang.cpab.flow_kernel.mode`): it builds in the background once these are built."""
        training = torch.is_grad_enabled() and self.theta.requires_grad
        wanted = (x.dim(), x.dtype, x.device, training, torch.is_grad_enabled() and x.requires_grad)
        if self.__dict__.get("_built_for") == wanted or not kernels.backend_available(x.device):
            return  # built already, or no compiler: the calls below raise fuse=True's error
        kernels.prepare(kernel_calls(x, self._example_tables(x), spec, training or wanted[4], training), wait=True)
        self.__dict__["_built_for"] = wanted

    @torch.jit.unused
    def _example_tables(self, x: Tensor) -> Tensor:
        """Packed tables of the shape and dtype this module's lookup takes for ``x`` (zeros): what
        its kernels are keyed by, before the real ones are computed."""
        rows = (self.channels,) if self.channels else ()
        empty = x.new_zeros((*rows, self.grid + 2))
        return pack(empty, empty)

    @torch.jit.unused
    def _inference(self, x: Tensor, tables: Tensor, spec: tuple) -> Tensor:
        """The lookup without autograd. Once the forward kernel is loaded for these tables and x's
        rank, later calls go straight to it: at batch 1 the checks that find it took as long as
        the kernel itself (24 against 7 µs on 4,096 values)."""
        known = self.__dict__.get("_loaded_forward")  # (tables, (rank, fusion), kernel key)
        if known is not None and known[0] is tables and known[1] == (x.dim(), self.fusion):
            return run_loaded_forward(x, tables, spec, known[2])
        fused = self.fusion if fuses(x, self.fusion, tables, spec) else "off"  # "auto": built in the background
        out = run_forward(x, tables, spec, fused)
        key = forward_key(x, tables, spec) if fused != "off" else None
        if key is not None:  # the key, not the kernel: a module must stay copyable (deepcopy)
            self.__dict__["_loaded_forward"] = (tables, (x.dim(), self.fusion), key)
        return out

    @torch.jit.unused
    def _flow(self, x: Tensor, spec: tuple) -> str:
        """The table flow's mode for a call on ``x``. Under ``auto`` (and ``fuse=True``, which does
        not wait for it) a missing flow kernel is built in the background, asked for only once the
        lookup's kernels are built: background builds run one at a time,
        and the lookup's are what the call is slow without (its eager functions cost about 20×
        the kernels; the flow in numpy, a fraction of a millisecond more per step)."""
        flow = flow_mode(self.fusion, x.numel())
        if flow != "auto":
            return flow
        ready = (x.dim(), x.dtype, x.device)
        if self.__dict__.get("_lookup_ready") == ready:
            return flow
        if not all(kernel.built(args) for kernel, args in kernel_calls(x, self._example_tables(x), spec, True, True)):
            return "built"  # a flow kernel built already still runs; none is asked for yet
        self.__dict__["_lookup_ready"] = ready
        return flow

    @torch.jit.unused
    def _cached_pieces(self, x: Tensor, flow: str | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``(c0, c1, pack(c0, c1))``, reused while θ is unchanged and no gradient w.r.t. θ is
        wanted (inference): at batch 1 a model's activations are small, and the table, even
        packed (four small ops), is a good part of a call.

        The cache is keyed by θ's values (a copy, compared in full: θ is small), not by its
        version counter or address: an update through ``theta.data`` moves no counter, and
        ``torch.func.functional_call`` may place a new θ where a freed one was. Pieces made under
        ``torch.inference_mode`` are inference tensors, which autograd may not save: outside that
        mode they are made again (a frozen θ trained after an evaluation). ``flow``: the table
        flow's mode (default: the module's, for x's size).
        """
        flow = flow_mode(self.fusion, x.numel()) if flow is None else flow
        if (torch.is_grad_enabled() and self.theta.requires_grad) or torch.compiler.is_compiling():
            c0, c1 = self._pieces(x.dtype, flow)
            return c0, c1, pack(c0.detach(), c1.detach())
        cached = self.__dict__.get("_pieces_cache")  # (x's dtype and device, θ's copy, pieces)
        stale = cached is not None and cached[2][2].is_inference() and not torch.is_inference_mode_enabled()
        if stale or cached is None or cached[0] != (x.dtype, x.device) or not _same(cached[1], self.theta):
            with torch.no_grad():
                c0, c1 = self._pieces(x.dtype, flow)
                cached = ((x.dtype, x.device), self.theta.detach().clone(), (c0, c1, pack(c0, c1)))
            self.__dict__["_pieces_cache"] = cached
        return cached[2]


def _same(kept: Tensor, theta: Tensor) -> bool:
    """Whether θ still holds the values ``kept`` (a copy): same dtype, device, shape and values
    (a NaN never compares equal: its pieces are simply made again)."""
    return kept.dtype == theta.dtype and kept.device == theta.device and torch.equal(kept, theta)

@torch.jit.unused
def _node_flow(slopes: Tensor, intercepts: Tensor, points: Tensor, bounded: bool) -> Tensor:
    return NodeFlow.apply(slopes, intercepts, points, 1.0, bounded)


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
