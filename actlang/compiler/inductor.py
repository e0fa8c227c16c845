"""Fused kernels through TorchInductor: one forward kernel and one backward kernel per expression.

``actlang.compile(e, fuse="auto")`` (the default) compiles the generated pure functions of
:mod:`actlang.compiler.inductor_code` ahead of time with AOTInductor (C++/OpenMP on the CPU,
Triton on CUDA; :mod:`actlang.kernel_cache` keeps the files on disk) and runs them inside
an autograd function that keeps the memory-efficient saved tensors (1× the input; 2× with one
learned scalar):

- ``derivatives``: the forward kernel computes f and ∂f/∂x (and ∂f/∂p) in one pass over x and
  saves the partials; backward is g·∂f/∂x (and Σ g·∂f/∂p: one more kernel with a reduction);
- ``recompute``: the forward kernel computes f and saves x; the backward kernel recomputes f's
  intermediates from x and runs the reverse sweep seeded with g (and the parameters' reductions).

The static cost model (:mod:`actlang.compiler.inductor_cost`) prices both against the unfused
path's own choice (:mod:`actlang.compiler.fused`) and ``auto`` keeps the cheapest: compute-bound
expressions (``erfc(softplus(x))^2``) stay unfused, where ATen's kernels beat inductor's. ``auto``
also stays unfused for tensors under :data:`MIN_NUMEL` values (a kernel call's fixed cost does not
pay there), inside ``torch.compile``/``torch.export``/TorchScript/``torch.func`` (the caller's
compiler sees the plain code: no double compilation), and, with one :class:`FusionWarning`, where
inductor has no compiler for the device (no C++ compiler; no Triton).

Building a kernel takes seconds, once per expression, dtype, layout and machine. ``auto`` never
waits for it: a kernel that is not on disk yet is built by a background process while the module
runs unfused, and the module switches to it once the file is there (in this process or the next,
which loads it in milliseconds). ``fuse=True`` builds in the calling process and waits;
``fuse=False`` is the unfused path. A log record (``actlang.compiler``, INFO) says when a kernel is
being compiled and how long it took.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import torch

from actlang import kernel_plans, kernels
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
    """One expression's fused kernels (built or loaded on first use) and the cost model's verdicts."""

    program: Any
    strategy: str  # "derivatives" | "recompute"
    codes: dict[str, inductor_code.Code]
    train: bool  # auto: fused training beats the unfused path
    infer: bool  # auto: the fused value beats the plain code
    prices: dict[str, float]
    kernel_objects: dict[str, kernels.Kernel] = field(default_factory=dict)
    function: Any = None
    recompute: Any = None

    def kernels(self, training: bool) -> tuple[str, ...]:
        """The kernels one call runs: f alone for inference; for training, the forward kernel
        and (unless backward is one multiplication) the backward kernel."""
        if not training:
            return ("value",)
        if self.strategy == "recompute":
            return ("value", "backward")
        return ("forward", "saved_backward") if self.program.params else ("forward",)

    def kernel(self, name: str) -> kernels.Kernel:
        """Kernel ``name`` (made on first use): a builder process makes it from the generated text."""
        if name not in self.kernel_objects:
            code = self.codes[name]
            recipe = ("actlang.compiler.loading:generated_function", (code.text, name))
            label = f"the {name} kernel of {self.program.text}"
            self.kernel_objects[name] = kernels.Kernel(recipe, name, label, like=code.inputs, single=name == "value")
        return self.kernel_objects[name]

    def ready(self, names: tuple[str, ...], x: torch.Tensor, values: list[torch.Tensor], wait: bool) -> bool:
        """Whether kernels ``names`` can all run on tensors like x now (:func:`actlang.kernels.prepare`:
        missing ones built now, side by side, with ``wait``; else in the background)."""
        flat = self.flatten(x, kernels.memory_order(x))
        calls = [
            (self.kernel(name), (flat,) * self.codes[name].inputs + tuple(values[: _param_count(name, values)]))
            for name in names
        ]
        return kernels.prepare(calls, wait)

    def call(self, name: str, *args: torch.Tensor) -> Any:
        """Run kernel ``name`` (made :meth:`ready` before): f's kernel returns a tensor, the
        others a tuple."""
        return self.kernel(name)(*args)

    @property
    def runners(self) -> dict[tuple, Any]:
        """The kernels loaded so far, by (name, dtype, device kind)."""
        return {(name, *key[:2]): r for name, k in self.kernel_objects.items() for key, r in k.runners.items()}

    def flatten(self, x: torch.Tensor, order: tuple[int, ...] | None) -> torch.Tensor:
        """x as the kernels take it, dimensions in ``order`` (:func:`actlang.kernels.flat`)."""
        return kernels.flat(x, self.program.channel_dim if self.program.per_channel else None, order)


def _param_count(name: str, values: list[torch.Tensor]) -> int:
    """How many parameter arguments kernel ``name`` takes (saved_backward: the one scalar)."""
    return 1 if name == "saved_backward" else len(values)


def plan(program: Any) -> Plan | None:
    """The inductor plan of ``program`` (cached on it), or None when it cannot be fused."""
    found = program.__dict__.get("_inductor_plan", False)
    if found is False:
        found = _plan(program)
        program.__dict__["_inductor_plan"] = found
    return found


def _plan(program: Any) -> Plan | None:
    """The plan: from disk when an earlier process made it (no sympy then: what keeps a second
    process's first call short), else made here and stored."""
    stored = kernel_plans.load_plan(program.source)
    if stored is None:
        stored = _decide(program)
        if stored is None:
            return None
        kernel_plans.store_plan(program.source, stored)
    codes = {
        name: inductor_code.Code(name, text, tuple(lines), inputs, outputs)
        for name, (text, lines, inputs, outputs) in stored["codes"].items()
    }
    built = Plan(program, stored["strategy"], codes, stored["train"], stored["infer"], stored["prices"])
    built.function = _function(built)
    return built


def _decide(program: Any) -> dict[str, Any] | None:
    """The generated kernels, their prices and the cost model's verdicts, as plain data (None
    when the expression cannot be fused)."""
    from actlang.compiler import fused as fused_module

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
    return {
        "strategy": strategy,
        "codes": {name: [code.text, list(code.lines), code.inputs, code.outputs] for name, code in codes.items()},
        "train": prices[strategy] < margin * unfused.cost,
        "infer": prices["value"] < margin * prices["plain value"],
        "prices": prices,
    }


def _recompute(built: Plan) -> Any:
    """f as a plain function of (x, *params), for double backward (built on first use)."""
    if built.recompute is None:
        from actlang.compiler import sources
        from actlang.compiler.loading import load_source

        text, _ = sources.recompute_source(built.program, list(built.program.params))
        built.recompute = load_source(text, {})["recompute"]
    return built.recompute


def forward(program: Any, fusion: str, x: torch.Tensor, values: list[torch.Tensor]) -> torch.Tensor | None:
    """f(x) through the inductor kernels, or None where the unfused path runs instead."""
    if fusion == "off" or torch.compiler.is_compiling():  # x is floating (ActivationModule.check_kind)
        return None
    if not kernels.holds_values(x):  # meta or fake tensors: shapes only, no kernel (nor warning)
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
    # auto: a kernel not built yet is built in the background while the unfused path runs;
    # fuse=True waits for it.
    if not found.ready(found.kernels(training), x, values, wait=fusion == "on"):
        return None
    if training:
        return found.function.apply(x, *values)
    order = kernels.memory_order(x)  # the result laid out as x (channels-last stays so)
    return kernels.unflat(found.call("value", found.flatten(x, order), *values), x.shape, order)


def _function(built: Plan) -> type:
    """The autograd function running ``built``'s kernels (one class per plan: ``needs_input_grad``
    lines up with ``(x, *params)``)."""
    from actlang.compiler.fused import _regrad

    count = len(built.program.params)
    saves_x = built.strategy == "recompute"

    class InductorFused(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
            ctx.shape, ctx.order = x.shape, kernels.memory_order(x)  # g read, ∂x written in x's layout
            if saves_x:
                y = built.call("value", built.flatten(x, ctx.order), *params)
                ctx.save_for_backward(x, *params)
            else:  # the partials are saved as the kernel wrote them, in x's memory order
                y, *parts = built.call("forward", built.flatten(x, ctx.order), *params)
                ctx.save_for_backward(*parts, *params)
                ctx.x_ref = weakref.ref(x)
            return kernels.unflat(y, x.shape, ctx.order)

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> tuple:
            if torch.is_grad_enabled():  # create_graph: recompute with plain autograd
                return _regrad(ctx, g, _recompute(built), count, saves_x)
            saved = ctx.saved_tensors
            params = saved[len(saved) - count :]
            flat = built.flatten(g, ctx.order)
            if saves_x:
                grads = built.call("backward", flat, built.flatten(saved[0], ctx.order), *params)
            elif count:
                grads = built.call("saved_backward", flat, saved[0], saved[1], params[0])
            else:
                grads = (flat * saved[0],)
            needs = ctx.needs_input_grad
            out = [kernels.unflat(grads[0], ctx.shape, ctx.order) if needs[0] else None]
            for grad, p, need in zip(grads[1:], params, needs[1:], strict=True):
                out.append(grad.reshape(p.shape) if need else None)
            return tuple(out)

    return InductorFused
