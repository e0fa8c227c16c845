"""The fused training path: f and its derivatives computed together, one autograd function.

For a pointwise f(x; p) the generated ``forward`` evaluates f, ∂f/∂x and ∂f/∂p in one
straight-line block (the :class:`~actlang.compiler.codegen.Emitter` shares subexpressions such as
``sigmoid(x)`` between them) and saves what backward needs; ``backward`` is then
``grad_x = g·∂f/∂x`` (one multiply) and ``grad_p = Σ g·∂f/∂p`` (reduced to p's shape).

What is saved (units: the input's size), chosen per expression:

- no learned scalars: ∂f/∂x only (1×); a derivative that is a constant is not saved at all;
- one learned scalar (or per-channel vector): ∂f/∂x and ∂f/∂p (2×);
- two or more: ∂f/∂x and x (2×); backward recomputes every ∂f/∂p from x (time, not memory).

Derivatives come from :func:`actlang.derivative` (symbolic, simplified, in registry primitives)
and pass through the same idiom rewrite as f. Double backward (``create_graph=True``) recomputes
f from x with plain autograd; x is saved in the recompute strategy and otherwise held by a weak
reference, so higher-order gradients need x to be alive (true for leaves and for inputs the
caller keeps); otherwise compile with ``memory_efficient=False``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch

from actlang.ast import Expr
from actlang.compiler.codegen import Emitter, Layout, function_source
from actlang.compiler.rewrite import rewrite
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


def build_fused(program: Any) -> type[torch.autograd.Function] | None:
    """The fused autograd function of ``program`` (None when no derivative is available)."""
    names = list(program.params)
    found = derivatives(program.expression, names)
    if found is None:
        return None
    source = fused_source(program, {k: rewrite(v) for k, v in found.items()}, names)
    from actlang.compiler.program import load_source

    scope = load_source(source, {"_reduce": _reduce, "_double": _double, "_ref": weakref.ref})
    fused = scope["Fused"]
    fused.source = source
    return fused


def fused_source(program: Any, found: dict[str, Expr], names: list[str]) -> str:
    """Source of ``class Fused(torch.autograd.Function)`` with generated forward and backward."""
    layout = Layout(param=lambda name: f"a_{name}", channel_dim=program.channel_dim if program.per_channel else None)
    args = ", ".join(["x", *(f"a_{n}" for n in names)])
    recompute = len(names) >= 2
    forward = Emitter(layout)
    y = forward.tensor(program.lowered)
    if y == "x":
        y = forward.emit("x.clone()")  # an autograd function must not return its input as is
    dx, dx_tensor = forward.value(found["x"])
    saved = [f"{dx} if ctx.needs_input_grad[0] else None" if dx_tensor else "None"]
    partials: dict[str, tuple[str, bool]] = {}
    if recompute:
        saved.append("x if any(ctx.needs_input_grad[1:]) else None")
    else:
        for i, name in enumerate(names, start=1):
            partials[name] = forward.value(found[name])
            code, is_tensor = partials[name]
            saved.append(f"{code} if ctx.needs_input_grad[{i}] else None" if is_tensor else "None")
    views = [forward.value(_param(program, n))[0] for n in names]
    tail = [
        f"ctx.vshapes = [{', '.join(f'{v}.shape' for v in views)}]",
        f"ctx.save_for_backward({', '.join([*saved, *(f'a_{n}' for n in names)])})",
        "ctx.x_ref = _ref(x)",
    ]
    forward_src = function_source("forward", f"ctx, {args}", [*forward.lines, *tail], y)
    backward_src = _backward_source(program, found, names, layout, dx, dx_tensor, partials, recompute)
    plain = Emitter(layout)
    plain_src = function_source("recompute", args, plain.lines, plain.tensor(program.lowered))
    return (
        f"{plain_src}\n\nclass Fused(torch.autograd.Function):\n"
        + _indent("@staticmethod\n" + forward_src)
        + "\n"
        + _indent("@staticmethod\n" + backward_src)
    )


def _backward_source(program, found, names, layout, dx, dx_tensor, partials, recompute) -> str:
    first = 2 if recompute else 1 + len(names)  # saved: dx, (x | one partial per parameter), parameters
    lines = [
        "if torch.is_grad_enabled():  # create_graph: recompute with plain autograd",
        f"    return _double(ctx, g, recompute, {len(names)}, {recompute})",
        "s = ctx.saved_tensors",
        "n = ctx.needs_input_grad",
        f"g_x = g * {'s[0]' if dx_tensor else dx} if n[0] else None",
    ]
    params = {name: f"s[{first + i}]" for i, name in enumerate(names)}
    if recompute:
        inner = Emitter(Layout(param=lambda name: params[name], channel_dim=layout.channel_dim))
        inner.lines.append("x = s[1]")
        codes = {name: inner.value(found[name]) for name in names}
        lines.append("g_p = [None] * " + str(len(names)))
        lines.append("if any(n[1:]):")
        lines += [f"    {line}" for line in inner.lines]
        for i, name in enumerate(names):
            lines.append(f"    g_p[{i}] = _reduce(g * {codes[name][0]}, ctx.vshapes[{i}], {params[name]}.shape)")
        result = ", ".join(["g_x", *(f"g_p[{i}]" for i in range(len(names)))])
    else:
        outs = []
        for i, name in enumerate(names):
            code, is_tensor = partials[name]
            value = f"s[{1 + i}]" if is_tensor else code
            reduced = f"_reduce(g * {value}, ctx.vshapes[{i}], {params[name]}.shape)"
            lines.append(f"g_{i} = {reduced} if n[{1 + i}] else None")
            outs.append(f"g_{i}")
        result = ", ".join(["g_x", *outs])
    return function_source("backward", "ctx, g", lines, f"({result},)" if not names else f"{result}")


def _param(program: Any, name: str) -> Expr:
    from actlang.ast import Param

    return Param(name, program.params[name])


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" if line else "\n" for line in text.splitlines())


def _reduce(grad: torch.Tensor, view_shape: torch.Size, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast gradient down to a parameter's (view) shape, then to its own shape."""
    return grad.sum_to_size(view_shape).reshape(shape)


def _double(ctx: Any, g: torch.Tensor, recompute: Callable[..., torch.Tensor], count: int, saves_x: bool) -> tuple:
    """Gradients that are themselves differentiable: recompute f with autograd, then ``grad``."""
    saved = ctx.saved_tensors
    params = list(saved[len(saved) - count :]) if count else []
    x = saved[1] if saves_x and saved[1] is not None else ctx.x_ref()
    if x is None:
        raise RuntimeError(
            "higher-order gradients through a memory-efficient actlang module need its input, which "
            "was freed; compile with memory_efficient=False for double backward"
        )
    inputs = [x, *params]
    wanted = [t for t, need in zip(inputs, ctx.needs_input_grad, strict=True) if need]
    with torch.enable_grad():
        y = recompute(*inputs)
        grads = iter(torch.autograd.grad(y, wanted, g, create_graph=True, allow_unused=True))
    out = []
    for tensor, need in zip(inputs, ctx.needs_input_grad, strict=True):
        grad = next(grads) if need else None
        out.append(torch.zeros_like(tensor) if need and grad is None else grad)  # unused: zero, not None
    return tuple(out)
