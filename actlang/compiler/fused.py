"""The fused training path: f and its derivatives computed together, one autograd function.

For a pointwise f(x; p) the generated ``forward`` evaluates f and its partial derivatives in one
straight-line block (the :class:`~actlang.compiler.codegen.Emitter` shares subexpressions such as
``sigmoid(x)`` between them) and saves what backward needs. Strategies (units: the input's size):

- ``"derivatives"``: save ∂f/∂x (1×; nothing when it is a constant) and, with one learned scalar
  or per-channel vector, ∂f/∂p (2× in all); backward is one multiply per input (a dot product
  for a scalar parameter);
- ``"partials"`` (learned scalars): save x and ∂f/∂x (2×); backward is g·∂f/∂x for x, and the
  parameters' gradients come from a generated reverse sweep seeded with g over f recomputed from
  x (no autograd, common subexpressions shared across the parameters), reduced as dot products;
- ``"sweep"`` (learned scalars): save x and the value of one subexpression u of f, picked by the
  cost model (2×); backward gives every gradient by a generated reverse sweep seeded with g over
  f recomputed from x where u does not already hold it;
- ``"checkpoint"``: save x only (1×); backward recomputes f with autograd from x;
- ``"plain"``: the generated code under ordinary autograd (only when what it saves fits).

The partial derivatives have two forms (:mod:`~actlang.compiler.sources`): the symbolic
derivative (:func:`actlang.derivative`) and the chain rule over the AST with PyTorch's native
backward kernels (:mod:`~actlang.compiler.chain`). The choice between strategies and forms is
static (:mod:`~actlang.compiler.cost`): every candidate is priced from its generated statements
(forward + first-order backward, plus autograd's backward estimated as a reverse sweep over f),
and the cheapest within the memory allowance (1× without learned scalars, 2× with them) wins —
the same expression gives the same choice on every machine and run. Ties go to the earlier
candidate in the order derivatives, partials, sweep, checkpoint, plain; symbolic before chain.

Double backward (``create_graph=True``) recomputes f from x with plain autograd; x is saved in
the checkpoint and partials strategies and otherwise held by a weak reference, so higher-order
gradients need x to be alive (true for leaves and for inputs the caller keeps); otherwise the
error says to compile with ``memory_efficient=False``.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable
from typing import Any

import torch

from actlang.ast import Call, Expr, Input, Num, Param, contains, uses_input, walk
from actlang.compiler import chain, cost, sources
from actlang.compiler.deadline import OutOfTime, limited
from actlang.compiler.loading import load_source
from actlang.compiler.rewrite import fold_coefficients, reflect_steps, rewrite
from actlang.errors import ActlangError

STRATEGIES = ("derivatives", "partials", "sweep", "checkpoint", "plain")


def _symbolic_derivative(expr: Expr, wrt: str) -> Expr:
    from actlang.symbolic import derivative  # sympy: imported on the first fused build

    return derivative(expr, wrt=wrt)


# d/d(wrt) of an expression as an actlang AST; replaceable (tests inject reference derivatives).
DERIVATIVE: Callable[[Expr, str], Expr] = _symbolic_derivative


def derivatives(expr: Expr, names: list[str]) -> dict[str, Expr] | None:
    """∂expr/∂x and ∂expr/∂p for each learned scalar, or None when one cannot be formed."""
    try:
        return {wrt: DERIVATIVE(expr, wrt) for wrt in ["x", *names]}
    except (ImportError, ActlangError, NotImplementedError, TypeError, ValueError):
        return None


def build_fused(program: Any, strategy: str = "auto", method: str | None = None) -> Any:
    """The training function of ``program`` (``.apply(x, *params)``), or None if ``strategy`` can't be built.

    ``strategy``: one of :data:`STRATEGIES`, or ``"auto"``: the cheapest candidate by the static
    cost model whose saved memory is within the allowance (the choice depends on the expression
    only, never on an input). The result carries ``strategy``, ``method``,
    ``cost``, ``source`` and, for ``"auto"``, ``costs`` (every candidate's price; those over the
    memory allowance are left out). ``method`` (``"symbolic"`` or ``"chain"``) keeps only candidates
    whose derivatives have that form.
    """
    if strategy not in ("auto", *STRATEGIES):
        raise ActlangError(f"unknown training strategy {strategy!r}; choose auto or one of {', '.join(STRATEGIES)}")
    wanted = STRATEGIES if strategy == "auto" else (strategy,)
    backward_estimate = _autograd_estimate(program)
    candidates = [c for kind in wanted for c in _candidates(program, kind, backward_estimate)]
    if method is not None:
        candidates = [c for c in candidates if c.method == method]
    if strategy == "auto":
        allowance = 2.0 if program.params else 1.0
        candidates = [c for c in candidates if _saved_ratio(c, program) <= allowance + 0.01]  # + parameters
    if not candidates:
        return None
    best = min(candidates, key=lambda c: c.cost)  # min keeps the first of equal costs: deterministic
    if strategy == "auto":
        best.costs = {c.label: c.cost for c in candidates}
    return best


def _candidates(program: Any, kind: str, backward_estimate: float) -> list[Any]:
    """The candidates of one strategy (one per derivative form that can be built)."""
    names = list(program.params)
    if kind == "plain":
        _, plain_lines = sources.recompute_source(program, names)
        function = _load(sources.fused_source(program, "checkpoint", "", None, DERIVATIVE))
        return [_Plain(function.recompute, cost.block_cost(plain_lines) + backward_estimate)]
    if kind == "checkpoint":
        function = _load(sources.fused_source(program, "checkpoint", "", None, DERIVATIVE))
        function.cost = cost.block_cost(function.hot.forward + function.hot.recompute) + backward_estimate
        return [function]
    if (kind == "derivatives" and len(names) > 1) or (kind in ("partials", "sweep") and not names):
        return []
    if kind == "sweep":
        return _sweep(program)
    built = []
    for method in ("symbolic", "chain"):
        # partials use ∂f/∂x alone (the sweep in backward gives the parameters' gradients)
        found = _symbolic(program, names if kind == "derivatives" else []) if method == "symbolic" else None
        if method == "symbolic" and found is None:
            continue
        try:
            function = _load(sources.fused_source(program, kind, method, found, DERIVATIVE))
        except chain.NoRule:
            continue
        function.cost = cost.block_cost(function.hot.forward + function.hot.backward)
        built.append(function)
    return built


def _sweep(program: Any) -> list[Any]:
    """The cheapest "sweep" candidate: which value to save beside x, by the cost model (the first
    of equal costs, in evaluation order)."""
    from actlang.ast import Call

    best: tuple[float, sources.Source] | None = None
    seen: set[Expr] = set()
    for node in walk(program.lowered):
        if node in seen or not isinstance(node, Call) or not uses_input(node):
            continue
        seen.add(node)
        try:
            source = sources.fused_source(program, "sweep", "", None, DERIVATIVE, cut=node)
        except chain.NoRule:
            return []
        price = cost.block_cost(source.forward + source.backward)
        if best is None or price < best[0]:
            best = (price, source)
    if best is None:
        return []
    function = _load(best[1])
    function.cost = best[0]
    return [function]


def _symbolic(program: Any, names: list[str]) -> dict[str, Expr] | None:
    """The lowered symbolic derivatives wrt x and ``names``, or None when one has no closed form
    or may have a removable singularity (see :func:`removable`)."""
    found = {wrt: _symbolic_one(DERIVATIVE, program.expression, wrt) for wrt in ["x", *names]}
    if any(d is None or removable(d) for d in found.values()):
        return None
    return found  # type: ignore[return-value]


def removable(derivative: Expr) -> bool:
    """Whether a symbolic derivative may meet 0·inf, 0/0 or inf − inf where autograd does not.

    Autograd differentiates f as written, one kernel at a time, and its backward rules mask the
    removable cases (a ReLU's zero gradient stops an infinite one; ``pow``'s exponent gradient is
    0 where the base is 0). A simplified symbolic derivative has no such masks: ``u^p·log u`` at
    u = 0 is NaN, ``heaviside(x)/(2·sqrt(relu(x)))`` at x < 0 is 0/0. It can be infinite only
    through a pole — a division by a function of x or p, ``log``/``log1p``, or a power whose
    exponent is not a constant ≥ 0 — so a derivative with none of these is kept, and one with any
    is left to the chain rule, which mirrors autograd's rules (:mod:`~actlang.compiler.chain`).
    """
    for node in walk(derivative):
        if not isinstance(node, Call):
            continue
        match node.name, node.args:
            case "log" | "log1p" | "reciprocal", _:
                return True
            case "div", (_, below) if _varies(below):
                return True
            case "pow", (_, exponent) if not (isinstance(exponent, Num) and exponent.value >= 0):
                return True
    return False


def _varies(expr: Expr) -> bool:
    return contains(expr, (Input, Param))


@functools.lru_cache(maxsize=1024)
def _symbolic_one(derivative: Callable[[Expr, str], Expr], expr: Expr, wrt: str) -> Expr | None:
    """One symbolic derivative (sympy: the slow part of a build, so once per expression and variable)."""
    try:
        found = limited(lambda: derivative(expr, wrt))
    except (ImportError, ActlangError, NotImplementedError, TypeError, ValueError, OutOfTime, RecursionError):
        return None  # (out of time: cached as None, so this process keeps the same choice)
    # Derivatives get the idioms, one step per min/max and one coefficient per product (f itself
    # stays as the plain path computes it, so both paths return the same values); their steps
    # already gate their products (actlang.derivative, as autograd's masks do).
    return fold_coefficients(reflect_steps(rewrite(found)))


def _autograd_estimate(program: Any) -> float:
    """The price of autograd's backward through f: a reverse sweep seeded with g over f's values
    (native backward kernels where autograd has them), each parameter's gradient reduced; twice
    f's own price when f has no chain rule."""
    from actlang.compiler.codegen import Emitter

    emitter = Emitter(sources.layout(program))
    emitter.tensor(program.lowered)
    start = len(emitter.lines)
    try:
        sweep = chain.adjoints(emitter, program.lowered, "g", DERIVATIVE, "xp")
    except chain.NoRule:
        return 2.0 * cost.block_cost(emitter.lines)
    for parts in [sweep.x, *sweep.params.values()]:
        chain.combine(emitter, parts)
    return cost.block_cost(emitter.lines[start:]) + cost.REDUCTION * len(sweep.params)


class _Plain:
    """The generated code under plain autograd, as a candidate: ``apply(x, *params)``."""

    strategy = "plain"
    method = ""
    label = "plain"

    def __init__(self, recompute: Callable[..., torch.Tensor], price: float) -> None:
        self.apply = recompute
        self.source = inspect.getsource(recompute)
        self.cost = price


def _load(source: sources.Source) -> Any:
    scope = load_source(source.text, {"_dot": _dot, "_regrad": _regrad, "_ref": weakref.ref})
    fused = scope["Fused"]
    fused.source, fused.strategy, fused.method = source.text, source.strategy, source.method
    fused.recompute, fused.hot = scope["recompute"], source
    fused.label = f"{source.strategy} ({source.method})" if source.method else source.strategy
    return fused


def _saved_ratio(function: Any, program: Any) -> float:
    """What ``function`` keeps for backward, in units of the input's size (a small run on the CPU:
    which tensors are saved does not depend on the values).

    The run is the build's own, whatever the caller's context: on the CPU even under
    ``torch.device("meta")`` (meta storages all have address 0, so every saved tensor counted as
    one and the cached choice kept too much), outside any dispatch mode (a fake tensor's address
    is not there to read)."""
    from torch.utils._python_dispatch import _disable_current_modes

    with _disable_current_modes():
        x = torch.linspace(-3.0, 3.0, 4096, device="cpu")
        shape = (1,) if program.per_channel else ()
        params = [torch.full(shape, float(init), device="cpu") for init in program.params.values()]
        storages: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        inputs = [t.detach().requires_grad_() for t in (x, *params)]
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            function.apply(*inputs)
    return sum(storages.values()) / (x.numel() * x.element_size())


def _dot(a: torch.Tensor | float, b: torch.Tensor | float, view_shape: torch.Size, shape: torch.Size) -> torch.Tensor:
    """Σ a·b reduced to a parameter's (view) shape, then reshaped to its own shape.

    A scalar parameter with two operands of the same shape: one dot product, no product tensor.
    """
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape == b.shape and a.dtype == b.dtype and all(n == 1 for n in view_shape):
            return torch.dot(a.reshape(-1), b.reshape(-1)).reshape(shape)
        return (a * b).sum_to_size(view_shape).reshape(shape)
    tensor, number = (a, b) if isinstance(a, torch.Tensor) else (b, a)
    assert isinstance(tensor, torch.Tensor)
    return (tensor.sum_to_size(view_shape) * number).reshape(shape)


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
