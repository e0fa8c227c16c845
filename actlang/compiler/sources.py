"""Source of the fused training functions: one ``torch.autograd.Function`` per strategy.

Every function is straight-line generated code (see :mod:`actlang.compiler.fused` for the
strategies and how one is chosen). Each :class:`Source` carries the statements of its hot path
(forward, first-order backward) so that :mod:`actlang.compiler.cost` can price it.

Partial derivatives come in two forms, both emitted into the forward's Emitter so that they share
values with f: ``"symbolic"`` (``actlang.derivative`` per variable, through the idiom rewrite,
step reflection and coefficient folding) and ``"chain"`` (:func:`actlang.compiler.chain.adjoints`,
one reverse sweep for all variables, with native backward kernels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actlang.ast import Expr, Param
from actlang.compiler import chain
from actlang.compiler.buffers import reuse_buffers
from actlang.compiler.codegen import Emitter, Layout, function_source
from actlang.compiler.templates import literal

Partial = tuple[str, bool]  # (code, is_tensor) as Emitter.value returns


@dataclass
class Source:
    """Generated source of ``recompute`` and ``class Fused``, and its hot-path statements."""

    strategy: str
    method: str  # "symbolic" | "chain" | "" (no derivatives in the forward)
    text: str
    forward: list[str]
    backward: list[str] = field(default_factory=list)
    recompute: list[str] = field(default_factory=list)


def layout(program: Any) -> Layout:
    # The fused function runs on floating x only (module.fused_forward), so without channels
    # every value computed from x and learned scalars has x's shape and dtype.
    channel_dim = program.channel_dim if program.per_channel else None
    return Layout(param=lambda name: f"a_{name}", channel_dim=channel_dim, scalar_params=not program.per_channel)


def value_emitter(program: Any, lay: Layout) -> tuple[Emitter, str]:
    """An emitter holding the statements of f, and the variable with its value."""
    emitter = Emitter(lay)
    y = emitter.tensor(program.lowered)
    if y == "x":
        y = emitter.emit("x.clone()")  # an autograd function must not return its input as is
    return emitter, y


def partials(
    emitter: Emitter, program: Any, wanted: list[str], method: str, found: dict[str, Expr] | None,
    derivative: Callable[[Expr, str], Expr],
) -> dict[str, Partial]:
    """∂f/∂v for each v in ``wanted`` (``"x"`` or a parameter name), emitted into ``emitter``."""
    if method == "symbolic":
        assert found is not None
        return {v: emitter.value(found[v]) for v in wanted}
    sweep = chain.adjoints(emitter, program.lowered, 1.0, derivative, "xp" if len(wanted) > 1 else "x")
    parts = {"x": sweep.x, **sweep.params}
    result = {}
    for v in wanted:
        total = chain.combine(emitter, parts.get(v, []))
        result[v] = (total, True) if isinstance(total, str) else (literal(total), False)
    return result


def recompute_source(program: Any, names: list[str]) -> tuple[str, list[str]]:
    plain = Emitter(layout(program))
    result = plain.tensor(program.lowered)
    args = ", ".join(["x", *(f"a_{n}" for n in names)])
    return function_source("recompute", args, plain.lines, result), plain.lines


def fused_source(
    program: Any, strategy: str, method: str, found: dict[str, Expr] | None,
    derivative: Callable[[Expr, str], Expr], cut: Expr | None = None,
) -> Source:
    """The training function of ``strategy``: ``"derivatives"`` (save ∂f/∂x and ∂f/∂p),
    ``"partials"`` (save x and ∂f/∂x; parameter gradients recomputed by generated code),
    ``"sweep"`` (save x and the value of the subexpression ``cut``; every gradient by a generated
    reverse sweep from them) or ``"checkpoint"`` (save x; autograd recomputes)."""
    names = list(program.params)
    lay = layout(program)
    args = ", ".join(["x", *(f"a_{n}" for n in names)])
    forward, y = value_emitter(program, lay)
    wanted = {"derivatives": ["x", *names], "partials": ["x"]}.get(strategy, [])
    found_partials = partials(forward, program, wanted, method, found, derivative) if wanted else {}
    saved = [f"{code} if ctx.needs_input_grad[{i}] else None" if is_tensor else "None"
             for i, (code, is_tensor) in enumerate(found_partials.values())]
    if strategy == "sweep":
        assert cut is not None
        saved = [forward.value(cut)[0]]
    if strategy != "derivatives":
        saved = ["x", *saved]
    views = [forward.value(Param(n, program.params[n]))[0] for n in names]
    tail = [
        f"ctx.vshapes = [{', '.join(f'{v}.shape' for v in views)}]",
        f"ctx.save_for_backward({', '.join([*saved, *(f'a_{n}' for n in names)])})",
        "ctx.x_ref = _ref(x)",
    ]
    body = forward.lines
    if not program.per_channel:  # every temporary on x has x's shape and dtype (see layout)
        body = reuse_buffers(body, forward.steps, {y, *(code for code, _ in found_partials.values()), *saved})
    forward_src = function_source("forward", f"ctx, {args}", [*body, *tail], y)
    plain_src, plain_lines = recompute_source(program, names)
    if strategy == "checkpoint":
        backward_lines: list[str] = []
        backward_src = function_source("backward", "ctx, g", [], f"_regrad(ctx, g, recompute, {len(names)}, True)")
    elif strategy == "derivatives":
        backward_lines, result = _backward_derivatives(names, found_partials)
        backward_src = function_source("backward", "ctx, g", _guard(len(names), False) + backward_lines, result)
    elif strategy == "sweep":
        assert cut is not None
        backward_lines, result = _backward_sweep(program, names, cut, derivative)
        backward_src = function_source("backward", "ctx, g", _guard(len(names), True) + backward_lines, result)
    else:
        backward_lines, result = _backward_partials(program, names, found_partials["x"], derivative)
        backward_src = function_source("backward", "ctx, g", _guard(len(names), True) + backward_lines, result)
    label = {"derivatives": "save the derivatives", "partials": "save x and df/dx, recompute parameter partials",
             "checkpoint": "checkpoint: save x, recompute in backward",
             "sweep": f"save x and {str(cut).split(' where ')[0]}, reverse sweep in backward"}[strategy]
    text = (
        f"{plain_src}\n\nclass Fused(torch.autograd.Function):\n    # strategy: {label}"
        + (f" ({method} derivative)" if method else "") + "\n"
        + _indent("@staticmethod\n" + forward_src) + "\n" + _indent("@staticmethod\n" + backward_src)
    )
    return Source(strategy, method, text, body, backward_lines, plain_lines)


def _guard(count: int, saves_x: bool) -> list[str]:
    """Backward's head: under create_graph, recompute with plain autograd (differentiable again)."""
    return [
        "if torch.is_grad_enabled():  # create_graph: recompute with plain autograd",
        f"    return _regrad(ctx, g, recompute, {count}, {saves_x})",
        "s = ctx.saved_tensors",
        "n = ctx.needs_input_grad",
    ]


def _backward_derivatives(names: list[str], found: dict[str, Partial]) -> tuple[list[str], str]:
    """grad_x = g·∂f/∂x and grad_p = Σ g·∂f/∂p from the saved partials (one pass each)."""
    lines, outs = [], []
    for i, wrt in enumerate(["x", *names]):
        code, is_tensor = found[wrt]
        value = f"s[{i}]" if is_tensor else code
        if wrt == "x":
            lines.append(f"g_x = g * {value} if n[0] else None")
            outs.append("g_x")
            continue
        reduced = f"_dot(g, {value}, ctx.vshapes[{i - 1}], s[{len(names) + i}].shape)"
        lines.append(f"g_{i} = {reduced} if n[{i}] else None")
        outs.append(f"g_{i}")
    return lines, ", ".join(outs) if names else f"({outs[0]},)"


def _backward_partials(
    program: Any, names: list[str], dx: Partial, derivative: Callable[[Expr, str], Expr]
) -> tuple[list[str], str]:
    """grad_x = g·(saved ∂f/∂x); the parameters' gradients by a reverse sweep seeded with g over
    f recomputed from the saved x, each reduced as Σ of dot products (no product tensor for a
    scalar parameter)."""
    lines = [f"g_x = g * {'s[1]' if dx[1] else dx[0]} if n[0] else None"]
    outs = ", ".join(f"g_{i + 1}" for i in range(len(names)))
    lines += ["if not any(n[1:]):", f"    return g_x, {', '.join('None' for _ in names)}"]
    lines += ["x = s[0]", *(f"a_{n} = s[{2 + i}]" for i, n in enumerate(names))]
    emitter = Emitter(layout(program))
    sweep = chain.adjoints(emitter, program.lowered, "g", derivative, "p")
    views = [emitter.value(Param(n, program.params[n]))[0] for n in names]
    lines += _reuse(program, emitter, [v for parts in sweep.params.values() for pair in parts for v in pair])
    lines += _reductions(names, views, sweep.params, 1)
    return lines, f"g_x, {outs}"


def _backward_sweep(
    program: Any, names: list[str], cut: Expr, derivative: Callable[[Expr, str], Expr]
) -> tuple[list[str], str]:
    """Every gradient by a reverse sweep seeded with g, over f recomputed from the saved x where
    the saved value of ``cut`` does not already hold it (common subexpressions shared)."""
    lines = ["x = s[0]", *(f"a_{n} = s[{2 + i}]" for i, n in enumerate(names))]
    emitter = Emitter(layout(program))
    emitter.memo[cut] = ("s[1]", True)
    sweep = chain.adjoints(emitter, program.lowered, "g", derivative, "xp")
    dx = chain.combine(emitter, sweep.x)
    views = [emitter.value(Param(n, program.params[n]))[0] for n in names]
    lines += _reuse(program, emitter, [dx, *(v for parts in sweep.params.values() for pair in parts for v in pair)])
    lines.append(f"g_x = {dx if isinstance(dx, str) else f'g * {literal(dx)}'} if n[0] else None")
    lines += _reductions(names, views, sweep.params, 1)
    return lines, f"g_x, {', '.join(f'g_{i + 1}' for i in range(len(names)))}"


def _reductions(names: list[str], views: list[str], parts: dict[str, list], first: int) -> list[str]:
    """``g_i = Σ dot products`` per parameter (zeros when it has no part)."""
    lines = []
    for i, name in enumerate(names):
        shapes = f"{views[i]}.shape, a_{name}.shape"
        terms = [f"_dot({_code(a)}, {_code(b)}, {shapes})" for a, b in parts.get(name, []) if a != 0.0 and b != 0.0]
        total = " + ".join(terms) or f"torch.zeros_like(a_{name})"
        lines.append(f"g_{i + first} = ({total}) if n[{i + first}] else None")
    return lines


def _reuse(program: Any, emitter: Emitter, read: list[chain.Value]) -> list[str]:
    """The emitter's statements with buffer reuse (as in the forward), ``read`` kept alive."""
    if program.per_channel:
        return emitter.lines
    return reuse_buffers(emitter.lines, emitter.steps, {v for v in read if isinstance(v, str)})


def _code(value: chain.Value) -> str:
    return value if isinstance(value, str) else literal(value)


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" if line else "\n" for line in text.splitlines())
