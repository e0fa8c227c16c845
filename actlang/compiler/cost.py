"""A static cost model of generated straight-line code: same statements ⇒ same cost, anywhere.

Eager PyTorch on a CPU runs every elementwise operation as one pass over the tensor, so the time
of a block is about the sum of its passes; each pass costs what its kernel costs per element
(memory traffic for arithmetic, more for transcendental functions), and each result that is not
written into an existing buffer (``out=``, an in-place ``op_``) first allocates a fresh tensor
(page faults). The unit is one multiply of two tensors:

    cost(block) = Σ_pass weight(kernel) + ALLOCATION · (passes that allocate) + REDUCTION · (sums)

Weights: relative single-thread times of the kernels on 4M float32 values (2-core x86 VM, torch
2.13 CPU; ``benchmarks/compiler_bench.py --kernels`` prints them), rounded; a kernel not listed
costs as much as arithmetic. Operations on learned scalars (``p_beta.reshape(...)``) and
literals are free: they touch a handful of values, not the tensor.
"""

from __future__ import annotations

import ast
import functools

ALLOCATION = 0.4  # a fresh x-sized result: page faults on first touch (measured: 0.37 of a multiply)
REDUCTION = 0.5  # a sum or dot product over the tensor down to a scalar (reads, no result tensor)
COMPARISON = 2.0  # a comparison (x > 0) writing a bool tensor

# Kernel weights (a multiply of two tensors = 1).
WEIGHTS: dict[str, float] = {
    # memory-bound arithmetic, comparisons, selections, cheap vectorised functions
    **dict.fromkeys(
        ["neg", "abs", "square", "relu", "clamp", "maximum", "minimum", "sign", "reciprocal", "rsqrt",
         "sigmoid", "silu", "hardsigmoid", "hardswish", "hardtanh", "relu6", "leaky_relu", "to",
         "softsign", "floor", "zeros_like", "ones_like", "full_like", "clone", "add_", "mul_", "rsqrt_"],
        1.0,
    ),
    "isnan": 1.3,
    "where": 7.0,  # torch.where: about seven multiplies on this CPU build (not vectorised)
    # transcendental kernels (vectorised)
    **dict.fromkeys(["exp", "sqrt", "gelu", "logsigmoid"], 1.7),
    **dict.fromkeys(["expm1", "log1p", "erf", "sin", "cos", "elu", "selu", "celu", "log", "softshrink",
                     "hardshrink"], 2.5),
    **dict.fromkeys(["erfc", "softplus", "ndtr", "sinh", "cosh"], 3.3),
    **dict.fromkeys(["tanh", "atan", "pow", "tanhshrink"], 5.0),
    "mish": 6.5,
    "mish_backward": 7.5,
    # scalar loops (no vectorised kernel)
    **dict.fromkeys(["asinh", "i0e", "i1e", "i0", "ndtri", "erfinv"], 45.0),
    # native backward kernels: one fused pass over the gradient and the saved tensor
    **dict.fromkeys(
        ["silu_backward", "elu_backward", "sigmoid_backward", "tanh_backward", "softplus_backward",
         "threshold_backward", "hardtanh_backward", "leaky_relu_backward", "hardsigmoid_backward",
         "softshrink_backward", "hardshrink_backward"],
        1.2,
    ),
}
_BINARY = {ast.Add: 1.0, ast.Sub: 1.0, ast.Mult: 1.0, ast.Div: 1.0, ast.Pow: 4.5}
_REDUCTIONS = frozenset({"sum", "sum_to_size", "_reduce", "_dot", "dot", "vdot"})
_FREE = frozenset({"reshape", "view", "tensor", "size", "dim", "detach", "expand"})
_SMALL_PREFIXES = ("p_", "q_", "a_", "cshape", "ctx", "math")


def block_cost(lines: list[str]) -> float:
    """The cost of straight-line statements ``target = expression`` (other lines cost nothing)."""
    return sum(statement_cost(line) for line in lines)


def statement_value(line: str) -> ast.expr | None:
    """The expression one generated statement computes (``t = e``, ``e`` or ``return e``), or None."""
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        return None
    node = tree.body[0] if tree.body else None
    return node.value if isinstance(node, ast.Assign | ast.Expr | ast.Return) else None


@functools.lru_cache(maxsize=65536)
def statement_cost(line: str) -> float:
    """The cost of one generated statement (see the module docstring)."""
    value = statement_value(line)
    return 0.0 if value is None else _cost(value, outer=True)


def _cost(node: ast.expr, outer: bool = False) -> float:
    """Passes in ``node`` over x-sized tensors, weighted, plus allocations."""
    inner = sum(_cost(child) for child in _operands(node))
    if not _large(node):
        return inner
    match node:
        case ast.Call():
            name = _callee(node)
            if name in _FREE:
                return inner
            if name in _REDUCTIONS:
                return inner + REDUCTION
            writes_into = any(k.arg in ("out", "grad_input") for k in node.keywords) or name.endswith("_")
            return inner + WEIGHTS.get(name, 1.0) + (0.0 if writes_into else ALLOCATION)
        case ast.BinOp(op=op):
            return inner + _BINARY.get(type(op), 1.0) + ALLOCATION
        case ast.UnaryOp():
            return inner + 1.0 + ALLOCATION
        case ast.Compare():  # a bool result: about two multiplies here
            return inner + COMPARISON + ALLOCATION
        case ast.IfExp():  # ``code if ctx.needs_input_grad[i] else None``: the code runs
            return _cost(node.body)
    return inner


def _operands(node: ast.expr) -> list[ast.expr]:
    match node:
        case ast.Call(func=func, args=args, keywords=keywords):
            receiver = [func.value] if isinstance(func, ast.Attribute) and _large(func.value) else []
            return [*receiver, *args, *(k.value for k in keywords)]
        case ast.BinOp(left=left, right=right):
            return [left, right]
        case ast.UnaryOp(operand=operand):
            return [operand]
        case ast.Compare(left=left, comparators=comparators):
            return [left, *comparators]
        case ast.IfExp():
            return []
    return []


def _callee(node: ast.Call) -> str:
    """The kernel's name: ``silu_backward`` for ``torch.ops.aten.silu_backward.grad_input(...)``."""
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in ("grad_input", "out", "default"):
        func = func.value
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _large(node: ast.expr) -> bool:
    """Whether ``node`` is (or computes) a tensor the size of x: it reads a variable that is not a
    learned scalar, a shape or a module (literals and ``p_beta * 2.0`` are small)."""
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and child.id not in ("torch", "F") and not child.id.startswith(_SMALL_PREFIXES):
            return True
    return False
