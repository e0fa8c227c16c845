"""Fused kernels through TorchInductor: one forward kernel and one backward kernel per expression.

``actlang.compile(e, fuse="auto")`` (the default) compiles the generated pure functions of
:mod:`actlang.compiler.inductor_code` with ``torch.compile`` (inductor: C++/OpenMP on the CPU,
Triton on CUDA) and runs them inside an autograd function that keeps the memory-efficient saved
tensors (1× the input; 2× with one learned scalar):

- ``derivatives``: the forward kernel computes f and ∂f/∂x (and ∂f/∂p) in one pass over x and
  saves the partials; backward is g·∂f/∂x (and Σ g·∂f/∂p: one more kernel with a reduction);
- ``recompute``: the forward kernel computes f and saves x; the backward kernel recomputes f's
  intermediates from x and runs the reverse sweep seeded with g (and the parameters' reductions).

The static cost model (:mod:`actlang.compiler.inductor_cost`) prices both against the unfused
path's own choice (:mod:`actlang.compiler.fused`) and ``auto`` keeps the cheapest: compute-bound
expressions (``erfc(softplus(x))^2``) stay unfused, where ATen's kernels beat inductor's. ``auto``
also stays unfused for tensors under :data:`MIN_NUMEL` values (a kernel call's fixed cost and the
compile time do not pay there), inside ``torch.compile``/``torch.export``/TorchScript/``torch.func``
(the caller's compiler sees the plain code: no double compilation), and, with one
:class:`FusionWarning`, where inductor has no compiler for the device (no C++ compiler; no Triton).
``fuse=True`` fuses every pointwise expression at every size (an error without a compiler);
``fuse=False`` is the unfused path.

Compiling costs seconds, once per expression, dtype and device kind; inductor keeps its results
on disk (``TORCHINDUCTOR_CACHE_DIR``), so a later process reuses them. A log record
(``actlang.compiler``, INFO) says when a kernel is being compiled and how long it took.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import torch

from actlang import kernels
from actlang.compiler import chain, inductor_code, inductor_cost
from actlang.kernels import MIN_NUMEL, FusionWarning, backend_available, cpp_compiler, has_triton

__all__ = [
    "MIN_NUMEL", "FusionWarning", "Plan", "backend_available", "cpp_compiler", "forward", "has_triton", "mode", "plan",
]

MODES = {"auto": "auto", True: "on", False: "off"}


def mode(fuse: object) -> str | None:
    """``"auto"``, ``"on"`` or ``"off"`` for a ``fuse`` option, None when it is not one."""
    if isinstance(fuse, bool) or fuse == "auto":
        return MODES[fuse]  # type: ignore[index]
    return None


@dataclass
class Plan:
    """One expression's inductor kernels (compiled lazily) and the cost model's verdicts."""

    program: Any
    strategy: str  # "derivatives" | "recompute"
    codes: dict[str, inductor_code.Code]
    train: bool  # auto: fused training beats the unfused path
    infer: bool  # auto: the fused value beats the plain code
    prices: dict[str, float]
    kernels: dict[str, kernels.Kernel] = field(default_factory=dict)
    function: Any = None
    recompute: Any = None

    def call(self, name: str, *args: torch.Tensor) -> Any:
        """Run kernel ``name`` (compiled on first use for this dtype and device kind; see
        :class:`actlang.kernels.Kernel`, which also runs it unfused if it fails to compile)."""
        kernel = self.kernels.get(name)
        if kernel is None:
            from actlang.compiler.loading import load_source

            function = load_source(self.codes[name].text, {})[name]
            kernel = self.kernels[name] = kernels.Kernel(function, f"the {name} kernel of {self.program.text}")
        return kernel(*args)

    def flatten(self, x: torch.Tensor) -> torch.Tensor:
        """x as the kernels take it (:func:`actlang.kernels.flat`)."""
        return kernels.flat(x, self.program.channel_dim if self.program.per_channel else None)


def plan(program: Any) -> Plan | None:
    """The inductor plan of ``program`` (cached on it), or None when it cannot be fused."""
    found = program.__dict__.get("_inductor_plan", False)
    if found is False:
        found = _plan(program)
        program.__dict__["_inductor_plan"] = found
    return found


def _plan(program: Any) -> Plan | None:
    from actlang.compiler import fused as fused_module
    from actlang.compiler import sources

    unfused = program.fused()  # the unfused path's choice (None: not a pointwise expression)
    if unfused is None:
        return None
    derivative = fused_module.DERIVATIVE
    try:
        codes = {"value": inductor_code.value_code(program)}
        codes["backward"] = inductor_code.backward_code(program, derivative)
        forward = inductor_code.forward_code(program, derivative)
    except chain.NoRule:
        return None
    price = inductor_cost.kernel_price
    prices = {"recompute": price(codes["value"]) + price(codes["backward"])}
    if forward is not None:
        codes["forward"] = forward
        if program.params:
            codes["saved_backward"] = inductor_code.saved_backward_code(program)
            after = price(codes["saved_backward"])
        else:
            after = inductor_cost.EAGER_MULTIPLY
        prices["derivatives"] = price(forward) + after
    strategy = min(prices, key=prices.__getitem__)  # ties: recompute (saves x, fewer compiles)
    prices["unfused"] = unfused.cost
    prices["value"] = price(codes["value"])
    prices["plain value"] = inductor_cost.eager_price(program.source)
    margin = inductor_cost.MARGIN
    built = Plan(program, strategy, codes, train=prices[strategy] < margin * unfused.cost,
                 infer=prices["value"] < margin * prices["plain value"], prices=prices)  # fmt: skip
    names = list(program.params)
    text, _ = sources.recompute_source(program, names)
    from actlang.compiler.loading import load_source

    built.recompute = load_source(text, {})["recompute"]
    built.function = _function(built)
    return built


def forward(program: Any, fusion: str, x: torch.Tensor, values: list[torch.Tensor]) -> torch.Tensor | None:
    """f(x) through the inductor kernels, or None where the unfused path runs instead."""
    if fusion == "off" or not x.is_floating_point() or torch.compiler.is_compiling():
        return None
    if fusion == "auto" and x.numel() < MIN_NUMEL:
        return None
    found = plan(program)
    if found is None:
        return None
    training = torch.is_grad_enabled() and (x.requires_grad or any(v.requires_grad for v in values))
    if fusion == "auto" and not (found.train if training else found.infer):
        return None
    if not kernels.available(x.device, fusion):
        return None
    if training:
        return found.function.apply(x, *values)
    return found.call("value", found.flatten(x), *values).reshape(x.shape)


def _function(built: Plan) -> type:
    """The autograd function running ``built``'s kernels (one class per plan: ``needs_input_grad``
    lines up with ``(x, *params)``)."""
    from actlang.compiler.fused import _regrad

    count = len(built.program.params)
    saves_x = built.strategy == "recompute"

    class InductorFused(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
            ctx.shape = x.shape
            if saves_x:
                y = built.call("value", built.flatten(x), *params)
                ctx.save_for_backward(x, *params)
            else:
                y, *parts = built.call("forward", built.flatten(x), *params)
                ctx.save_for_backward(*parts, *params)
                ctx.x_ref = weakref.ref(x)
            return y.reshape(x.shape)

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> tuple:
            if torch.is_grad_enabled():  # create_graph: recompute with plain autograd
                return _regrad(ctx, g, built.recompute, count, saves_x)
            saved = ctx.saved_tensors
            params = saved[len(saved) - count :]
            flat = built.flatten(g)
            if saves_x:
                grads = built.call("backward", flat, built.flatten(saved[0]), *params)
            elif count:
                grads = built.call("saved_backward", flat, saved[0], saved[1], params[0])
            else:
                grads = (flat * saved[0],)
            needs = ctx.needs_input_grad
            out = [grads[0].reshape(ctx.shape) if needs[0] else None]
            for grad, p, need in zip(grads[1:], params, needs[1:], strict=True):
                out.append(grad.reshape(p.shape) if need else None)
            return tuple(out)

    return InductorFused
