"""The static price of one fused inductor kernel, in the unit of :mod:`actlang.compiler.cost`.

One fused elementwise kernel reads each x-sized input once and writes each output once; between
them every operation is computed in registers. So its time is about

    price = STREAM · (inputs + outputs) + ALLOCATION · outputs + Σ_op compute(op)

where STREAM is one pass of memory traffic (a multiply of two tensors, the unit, is three
streams), and compute(op) what op costs inside a vectorised loop over the time a stream costs:
near nothing for arithmetic, more for transcendental functions, much more where inductor's C++
has no vectorised form (it then runs a scalar loop, which is where ATen's own kernels win). The
weights are single-thread measurements on 4M float32 values (2-core x86-64 VM, torch 2.13 CPU):
``torch.compile`` of ``op(x)`` minus ``torch.compile`` of ``x.clone()``, over an eager multiply;
``benchmarks/compiler_bench.py --kernels`` prints them. Same statements ⇒ same price, anywhere.
"""

from __future__ import annotations

import ast
import functools

from actlang.compiler import cost

STREAM = 1.0 / 3.0  # one x-sized read or write (a multiply: two reads and a write = 1)
ARITHMETIC = 0.05  # +, -, *, /, comparisons, selections inside the loop
# Fuse only where the price is this fraction of the unfused one or less: the weights are ops
# measured alone, and where compute dominates (erfc, softplus: slower in inductor's C++ than in
# ATen) a fused kernel saves little memory traffic, so near-ties go to the unfused path
# (``alpha*erfc(softplus(beta*x))^2``: priced 24 against 29, measured 1.3× slower fused).
MARGIN = 0.75
# A fresh x-sized output: page faults on first touch. Measured side by side (two threads, 4M
# float32): one more output of the forward kernel plus an eager g·s cost about 1.1 multiplies
# (``-x*sigmoid(x)*hard_sigmoid(x)``: saving ∂f/∂x 142 ms, recomputing it from x 112 ms per step).
ALLOCATION = 0.8
EAGER_MULTIPLY = 1.0 + ALLOCATION  # an eager g * s (a fresh result)

# Compute inside a fused loop, per op (measured; see the module docstring). Not listed: ARITHMETIC.
COMPUTE: dict[str, float] = {
    **dict.fromkeys(
        [
            "neg",
            "abs",
            "relu",
            "clamp",
            "maximum",
            "minimum",
            "sign",
            "where",
            "to",
            "square",
            "hardsigmoid",
            "hardswish",
            "hardtanh",
            "relu6",
            "leaky_relu",
            "floor",
            "zeros_like",
            "ones_like",
            "full_like",
            "clone",
            "add_",
            "mul_",
            "sub_",
            "threshold_backward",
            "hardtanh_backward",
            "leaky_relu_backward",
            "hardsigmoid_backward",
            "reciprocal",
            "rsqrt",
            "rsqrt_",
            "sqrt",
            "sigmoid_backward",
            "tanh_backward",
        ],
        ARITHMETIC,
    ),
    **dict.fromkeys(["exp", "sin", "cos", "expm1", "elu", "elu_backward", "selu", "celu", "softsign"], 0.3),
    **dict.fromkeys(["sigmoid", "softplus_backward"], 0.4),
    **dict.fromkeys(["silu", "silu_backward"], 0.5),
    **dict.fromkeys(["log", "erf", "gelu"], 1.2),
    "atan": 1.4,
    "log1p": 1.9,
    **dict.fromkeys(["sinh", "cosh"], 2.3),
    "tanh": 2.9,
    "tanhshrink": 3.0,
    "logsigmoid": 3.4,
    "softplus": 3.8,
    "asinh": 5.6,
    **dict.fromkeys(["pow", "erfc", "ndtr"], 6.3),
    **dict.fromkeys(["mish", "mish_backward"], 7.8),
    **dict.fromkeys(["ndtri", "erfinv"], 17.0),
    **dict.fromkeys(["i0e", "i1e", "i0"], 52.0),
}
_REDUCTIONS = frozenset({"sum", "sum_to_size"})
_FREE = frozenset({"reshape", "view", "tensor", "size", "dim", "detach", "expand"})


def kernel_price(code) -> float:  # code: inductor_code.Code
    """The price of one fused kernel running ``code``'s statements."""
    compute = sum(_statement(line) for line in code.lines)
    return compute + STREAM * (code.inputs + code.outputs) + ALLOCATION * code.outputs


def eager_price(source: str) -> float:
    """The unfused price of a generated function's source (one eager pass per statement)."""
    lines = [line.strip() for line in source.splitlines()[1:] if "=" in line and not line.strip().startswith("return")]
    return cost.block_cost(lines)


@functools.lru_cache(maxsize=65536)
def _statement(line: str) -> float:
    value = cost.statement_value(line)
    return 0.0 if value is None else _compute(value)


def _compute(node: ast.AST) -> float:
    """Compute of every operation in ``node`` on x-sized values (learned scalars are free)."""
    total = 0.0
    for child in ast.walk(node):
        match child:
            case ast.Call() if cost._large(child):
                name = cost._callee(child)
                if name in _REDUCTIONS:
                    total += ARITHMETIC
                elif name not in _FREE:
                    total += COMPUTE.get(name, ARITHMETIC)
            case ast.BinOp(op=ast.Pow()) if cost._large(child):
                total += COMPUTE["pow"]
            case ast.BinOp() | ast.UnaryOp() | ast.Compare() if cost._large(child):
                total += ARITHMETIC
    return total
