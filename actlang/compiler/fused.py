"""The fused training path: f and its derivatives computed together, one autograd function.

For a pointwise f(x; p) the generated ``forward`` evaluates f, ∂f/∂x and ∂f/∂p in one
straight-line block (the :class:`~actlang.compiler.codegen.Emitter` shares subexpressions such as
``sigmoid(x)`` between them) and saves what backward needs; ``backward`` is then
``grad_x = g·∂f/∂x`` (one multiply) and ``grad_p = Σ g·∂f/∂p`` (reduced to p's shape).

Two strategies, chosen per expression (units: the input's size):

- "derivatives": save ∂f/∂x (1×; nothing when it is a constant) and, with one learned scalar or
  per-channel vector, ∂f/∂p (2× in all); backward is one multiply per input;
- "checkpoint": save x only (1×); forward computes f alone and backward recomputes f with
  autograd from x (one extra forward: time, not memory). The only strategy with two or more
  learned scalars, where saving each partial would cost (1 + P)×.

The first training call builds every candidate that applies, plus plain autograd through the
generated code, counts what each saves and times each once on this machine (:func:`_race`); the
fastest within the memory allowance (1× without learned scalars, 2× with them) is kept: a cheap
derivative that shares work with f wins (``erfc(softplus(x))^2``), a composition whose autograd
already saves little wins as plain autograd (``x*sigmoid(beta*x)``: x and sigmoid(βx), 2×).

Derivatives come from :func:`actlang.derivative` (symbolic, simplified, in registry primitives)
and pass through the idiom rewrite and :func:`~actlang.compiler.rewrite.fold_coefficients`.
Double backward (``create_graph=True``) recomputes f from x with plain autograd; x is saved in
the checkpoint strategy and otherwise held by a weak reference, so higher-order gradients need x
to be alive (true for leaves and for inputs the caller keeps); otherwise the error says to compile
with ``memory_efficient=False``.
"""

from __future__ import annotations

import inspect
import time
import weakref
from collections.abc import Callable
from typing import Any

import torch

from actlang.ast import Expr
from actlang.compiler.buffers import reuse_buffers
from actlang.compiler.codegen import Emitter, Layout, function_source
from actlang.compiler.rewrite import fold_coefficients, reflect_steps, rewrite
from actlang.errors import ActlangError


def _symbolic_derivative(expr: Expr, wrt: str) -> Expr:
    from actlang import derivative  # provided by actlang.symbolic

    return derivative(expr, wrt=wrt)


# d/d(wrt) of an expression as an actlang AST; replaceable (tests inject reference derivatives).
DERIVATIVE: Callable[[Expr, str], Expr] = _symbolic_derivative


def derivatives(expr: Expr, names: list[str]) -> dict[str, Expr] | None:
    """∂expr/∂x and ∂expr/∂p for each learned scalar, or None when one cannot be formed."""
    try:
        return {wrt: DERIVATIVE(expr, wrt) for wrt in ["x", *names]}
    except (ImportError, ActlangError, NotImplementedError, TypeError, ValueError):
        return None


def build_fused(program: Any, strategy: str = "auto", example: torch.Tensor | None = None) -> Any:
    """The training function of ``program`` (``.apply(x, *params)``), or None if ``strategy`` can't be built.

    ``"derivatives"`` (save ∂f/∂x, ∂f/∂p; needs the symbolic derivative and at most one learned
    scalar), ``"checkpoint"`` (save x, recompute in backward), ``"plain"`` (the generated code
    under ordinary autograd), or ``"auto"``: every candidate that can be built, timed once on this
    machine with its saved memory counted (:func:`_race`); the fastest within the allowance wins.
    """
    names = list(program.params)
    candidates: list[tuple[str, dict[str, Expr]]] = []
    if strategy in ("auto", "derivatives") and len(names) <= 1:
        found = derivatives(program.expression, names)
        if found is not None:
            # Derivatives get the idioms, one step per min/max and one coefficient per product (f
            # itself stays as the plain path computes it, so both paths return the same values).
            lowered = {k: fold_coefficients(reflect_steps(rewrite(v))) for k, v in found.items()}
            candidates.append(("derivatives", lowered))
    if strategy in ("auto", "checkpoint", "plain"):
        candidates.append(("checkpoint", {}))
    built = [_load(fused_source(program, found, names, kind == "checkpoint"), kind) for kind, found in candidates]
    if strategy == "plain":
        return _Plain(built[-1].recompute)
    if strategy == "auto":
        return _race([*built, _Plain(built[-1].recompute)], program, example)
    return built[0] if built else None


class _Plain:
    """The generated code under plain autograd, as a candidate: ``apply(x, *params)``."""

    strategy = "plain"

    def __init__(self, recompute: Callable[..., torch.Tensor]) -> None:
        self.apply = recompute
        self.source = inspect.getsource(recompute)


def _load(source: str, strategy: str) -> type[torch.autograd.Function]:
    from actlang.compiler.program import load_source

    scope = load_source(source, {"_reduce": _reduce, "_regrad": _regrad, "_ref": weakref.ref})
    fused = scope["Fused"]
    fused.source, fused.strategy, fused.recompute = source, strategy, scope["recompute"]
    return fused


def _race(candidates: list[Any], program: Any, example: torch.Tensor | None = None, repeats: int = 5) -> Any:
    """The fastest candidate whose saved memory is within the allowance, on 256K float32 values.

    The allowance (× input size) is 1 without learned scalars and 2 with them. Saving derivatives
    and checkpointing always fit; plain autograd fits when the composition saves little
    (``x*sigmoid(beta*x)`` keeps x and sigmoid(βx): 2×). Which is fastest depends on how costly f
    is against its derivative on this machine. A private generator keeps the caller's random
    state untouched.
    """
    generator = torch.Generator().manual_seed(0)
    # 256K values (1 MiB in float32): past the caches, as real activations are; on the device and
    # in the dtype of the first training input.
    dtype = example.dtype if example is not None and example.is_floating_point() else torch.float32
    device = example.device if example is not None else torch.device("cpu")
    x = torch.randn(4, 1 << 16, generator=generator).to(device=device, dtype=dtype)
    shape = (1,) if program.per_channel else ()
    params = [torch.full(shape, float(init), device=device, dtype=dtype) for init in program.params.values()]
    grad = torch.ones_like(x)
    allowance = (2.0 if params else 1.0) * x.numel() * x.element_size() + 64  # + the parameters

    def run(fused: Any) -> float:
        inputs = [t.detach().requires_grad_() for t in (x, *params)]
        start = time.perf_counter()
        with torch.enable_grad():
            fused.apply(*inputs).backward(grad)
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # asynchronous kernels: time them, not their launch
        return time.perf_counter() - start

    def saved(fused: Any) -> int:
        storages: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        inputs = [t.detach().requires_grad_() for t in (x, *params)]
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fused.apply(*inputs)
        return sum(storages.values())

    allowed = [fused for fused in candidates if saved(fused) <= allowance]
    times: dict[Any, list[float]] = {fused: [] for fused in allowed}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the relative cost, without waits for busy cores
    try:
        for fused in allowed:
            run(fused)  # warm-up
        for _ in range(repeats):  # interleaved: noise from other processes hits all alike
            for fused in allowed:
                times[fused].append(run(fused))
    finally:
        torch.set_num_threads(threads)
    # The minimum, not the median: on a shared machine noise only ever adds time.
    best = min(allowed, key=lambda fused: min(times[fused]))
    best.timings = {fused.strategy: min(times[fused]) for fused in allowed}
    return best


def fused_source(program: Any, found: dict[str, Expr], names: list[str], checkpoint: bool) -> str:
    """Source of ``class Fused(torch.autograd.Function)`` with generated forward and backward."""
    layout = Layout(param=lambda name: f"a_{name}", channel_dim=program.channel_dim if program.per_channel else None)
    args = ", ".join(["x", *(f"a_{n}" for n in names)])
    forward, y = _value_emitter(program, layout)
    partials: dict[str, tuple[str, bool]] = {}
    saved: list[str] = []
    if not checkpoint:
        for i, wrt in enumerate(["x", *names]):
            partials[wrt] = code, is_tensor = forward.value(found[wrt])
            saved.append(f"{code} if ctx.needs_input_grad[{i}] else None" if is_tensor else "None")
    if checkpoint:  # x only; backward recomputes with autograd
        saved, partials = ["x"], {}
    views = [forward.value(_param(program, n))[0] for n in names]
    tail = [
        f"ctx.vshapes = [{', '.join(f'{v}.shape' for v in views)}]",
        f"ctx.save_for_backward({', '.join([*saved, *(f'a_{n}' for n in names)])})",
        "ctx.x_ref = _ref(x)",
    ]
    body = forward.lines
    if not names:  # x is then floating (it needs a gradient), so every x-only temporary has its dtype
        body = reuse_buffers(body, forward.steps, {y, *(code for code, _ in partials.values())})
    forward_src = function_source("forward", f"ctx, {args}", [*body, *tail], y)
    if checkpoint:
        backward_src = function_source("backward", "ctx, g", [], f"_regrad(ctx, g, recompute, {len(names)}, True)")
    else:
        backward_src = _backward_source(names, partials)
    plain = Emitter(layout)
    plain_src = function_source("recompute", args, plain.lines, plain.tensor(program.lowered))
    strategy = "checkpoint: save x, recompute in backward" if checkpoint else "save the derivatives"
    return (
        f"{plain_src}\n\nclass Fused(torch.autograd.Function):\n    # strategy: {strategy}\n"
        + _indent("@staticmethod\n" + forward_src)
        + "\n"
        + _indent("@staticmethod\n" + backward_src)
    )


def _value_emitter(program: Any, layout: Layout) -> tuple[Emitter, str]:
    """An emitter holding the statements of f, and the variable with its value."""
    emitter = Emitter(layout)
    y = emitter.tensor(program.lowered)
    if y == "x":
        y = emitter.emit("x.clone()")  # an autograd function must not return its input as is
    return emitter, y


def _backward_source(names: list[str], partials: dict[str, tuple[str, bool]]) -> str:
    """grad_x = g·∂f/∂x and grad_p = Σ g·∂f/∂p from the saved partials (one multiply each)."""
    lines = [
        "if torch.is_grad_enabled():  # create_graph: recompute with plain autograd",
        f"    return _regrad(ctx, g, recompute, {len(names)}, False)",
        "s = ctx.saved_tensors",
        "n = ctx.needs_input_grad",
    ]
    outs = []
    for i, wrt in enumerate(["x", *names]):
        code, is_tensor = partials[wrt]
        value = f"s[{i}]" if is_tensor else code
        if wrt == "x":
            lines.append(f"g_x = g * {value} if n[0] else None")
            outs.append("g_x")
            continue
        reduced = f"_reduce(g * {value}, ctx.vshapes[{i - 1}], s[{len(names) + i}].shape)"
        lines.append(f"g_{i} = {reduced} if n[{i}] else None")
        outs.append(f"g_{i}")
    result = ", ".join(outs)
    return function_source("backward", "ctx, g", lines, f"({result},)" if not names else result)


def _param(program: Any, name: str) -> Expr:
    from actlang.ast import Param

    return Param(name, program.params[name])


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" if line else "\n" for line in text.splitlines())


def _reduce(grad: torch.Tensor, view_shape: torch.Size, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast gradient down to a parameter's (view) shape, then to its own shape."""
    return grad.sum_to_size(view_shape).reshape(shape)


def _regrad(ctx: Any, g: torch.Tensor, recompute: Callable[..., torch.Tensor], count: int, saves_x: bool) -> tuple:
    """Gradients by recomputing f from x with autograd (differentiable again under create_graph)."""
    saved = ctx.saved_tensors
    params = list(saved[len(saved) - count :]) if count else []
    x = saved[0] if saves_x else ctx.x_ref()
    if x is None:
        raise RuntimeError(
            "higher-order gradients through a memory-efficient actlang module need its input, which "
            "was freed; compile with memory_efficient=False for double backward"
        )
    needs = ctx.needs_input_grad
    create_graph = torch.is_grad_enabled()
    inputs = [x, *params]
    if not create_graph:  # first-order backward: recompute on detached leaves, keep no graph
        inputs = [t.detach().requires_grad_(need) for t, need in zip(inputs, needs, strict=True)]
    wanted = [t for t, need in zip(inputs, needs, strict=True) if need]
    with torch.enable_grad():
        y = recompute(*inputs)
        if not y.requires_grad:  # f does not depend on them (zero(x), sign(x)): zero gradients
            return tuple(torch.zeros_like(t) if need else None for t, need in zip(inputs, needs, strict=True))
        grads = iter(torch.autograd.grad(y, wanted, g, create_graph=create_graph, allow_unused=True))
    out = []
    for tensor, need in zip(inputs, needs, strict=True):
        grad = next(grads) if need else None
        out.append(torch.zeros_like(tensor) if need and grad is None else grad)  # unused: zero, not None
    return tuple(out)
