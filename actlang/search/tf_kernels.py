"""Float32 kernels with the numerics AQuaSurF's outputs came from (TensorFlow's CPU kernels).

AQuaSurF deduplicates by *bit-identical* float32 outputs, so which float32 formula a kernel uses
decides the counts: TensorFlow's ``elu`` is ``exp(x) - 1`` (not ``expm1``), ``log_sigmoid`` is
``-softplus(-x)``, ``swish`` is ``x * sigmoid(x)``, ``max``/``min`` return their first argument on
ties (so the sign of a zero depends on the order) and propagate NaN, ``reduce_sum`` starts
from ``+0``, ``reciprocal`` is exact ``1/x`` (TensorFlow's is a hardware estimate refined by one
Newton step, which no portable numpy code reproduces: ``reciprocal(1)`` is 0.99999994 there). Each kernel
here is the registry primitive of the same name evaluated that way; ``tests/test_search_kernels.py``
checks every one against the primitive's float64 reference.

A primitive without a kernel here (any other registry primitive a user lists) is evaluated with
its float64 reference and rounded to float32.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import special

from actlang.definitions.activations import SELU_ALPHA, SELU_SCALE
from actlang.exact import exact_cache

F32 = np.float32
Kernel = Callable[..., np.ndarray]

# TensorFlow's literals, rounded to float32 as its kernels round them.
_SELU_SCALE = F32(SELU_SCALE)
_SELU_SCALE_ALPHA = F32(SELU_SCALE * SELU_ALPHA)  # TensorFlow folds the product into one constant
# tf.nn.softplus: x above -threshold, exp(x) below threshold, log1p(exp(x)) between.
_SOFTPLUS_THRESHOLD = F32(np.log(np.finfo(np.float32).eps) + 2)
_ONE, _ZERO = F32(1), F32(0)


def maximum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TensorFlow's vectorised ``maximum``: NaN if either is NaN, else ``a if a > b else b`` — a tie
    (``max(0, -0)``) returns the second argument, as SSE/AVX ``maxps`` does."""
    return np.where(np.isnan(a), a, np.where(a > b, a, b))


def minimum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TensorFlow's vectorised ``minimum``: NaN if either is NaN, else ``a if a < b else b``."""
    return np.where(np.isnan(a), a, np.where(a < b, a, b))


def softplus(x: np.ndarray) -> np.ndarray:
    """TensorFlow's softplus kernel: ``x`` for x > 13.94, ``eˣ`` for x < −13.94, ``log1p(eˣ)`` between."""
    e = np.exp(x)
    return np.where(x > -_SOFTPLUS_THRESHOLD, x, np.where(x < _SOFTPLUS_THRESHOLD, e, np.log1p(e)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^{−x}), rounded to float32."""
    return special.expit(x)


def elu(x: np.ndarray) -> np.ndarray:
    """TensorFlow's ELU: ``exp(x) - 1`` for x < 0 (not expm1), ``x`` otherwise (so −0 stays −0)."""
    return np.where(x < 0, np.exp(x) - _ONE, x)


def selu(x: np.ndarray) -> np.ndarray:
    """TensorFlow's SELU: ``scale·α·(exp(x) − 1)`` for x < 0, ``scale·x`` otherwise."""
    return np.where(x < 0, _SELU_SCALE_ALPHA * (np.exp(x) - _ONE), _SELU_SCALE * x)


def relu(x: np.ndarray) -> np.ndarray:
    """TensorFlow's vectorised ReLU, ``max(x, 0)``: relu(−0) = +0, NaN passes through."""
    return np.where((x > 0) | np.isnan(x), x, _ZERO)


def hard_sigmoid(x: np.ndarray) -> np.ndarray:
    """Keras 2: ``clip(x·0.2 + 0.5, 0, 1)``, multiply and add rounded separately in float32."""
    return maximum(minimum(x * F32(0.2) + F32(0.5), _ONE), _ZERO)


def leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    """TensorFlow's leaky ReLU: ``x`` where x > 0, ``slope·x`` elsewhere."""
    return np.where(x > 0, x, x * F32(slope))


def gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    """Exact GELU ``x·Φ(x)`` (``0.5·x·erfc(−x/√2)``) or the tanh approximation."""
    if approximate == "tanh":
        inner = F32(np.sqrt(2 / np.pi)) * (x + F32(0.044715) * x * x * x)
        return F32(0.5) * x * (_ONE + np.tanh(inner))
    return F32(0.5) * x * special.erfc(-x * F32(1 / np.sqrt(2)))


def elish(x: np.ndarray) -> np.ndarray:
    """ELiSH: ``x·σ(x)`` for x ≥ 0, ``(eˣ − 1)·σ(x)`` below (AQuaSurF's ``where`` formulation)."""
    return np.where(x >= 0, x, np.exp(x) - _ONE) * sigmoid(x)


def mish(x: np.ndarray) -> np.ndarray:
    """``x·tanh(softplus(x))`` with TensorFlow's softplus."""
    return x * np.tanh(softplus(x))


def power(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a ** b`` as C's ``powf``: computed in float64 and rounded (numpy's float32 SIMD power is
    not exact even for ``b = 1``, where TensorFlow's is)."""
    return np.power(a.astype(np.float64), np.asarray(b, np.float64)).astype(F32)


def _reduce(op: Callable[[np.ndarray, np.ndarray], np.ndarray], start: Any | None) -> Kernel:
    def kernel(*args: np.ndarray) -> np.ndarray:
        out = args[0] if start is None else op(np.asarray(start, F32), args[0])
        for arg in args[1:]:
            out = op(out, arg)
        return out

    return kernel


KERNELS: dict[str, Kernel] = {
    "zero": lambda x: np.zeros_like(x),
    "one": lambda x: np.ones_like(x),
    "identity": lambda x: x,
    "neg": np.negative,
    "abs": np.abs,
    "reciprocal": lambda x: _ONE / x,
    "square": lambda x: x * x,
    "exp": np.exp,
    "erf": special.erf,
    "erfc": special.erfc,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "expm1": np.expm1,
    "sigmoid": sigmoid,
    "log_sigmoid": lambda x: -softplus(-x),
    "asinh": np.arcsinh,
    "atan": np.arctan,
    "bessel_i0e": special.i0e,
    "bessel_i1e": special.i1e,
    "relu": relu,
    "elu": lambda x, alpha: elu(x) if alpha == 1 else np.where(x < 0, F32(alpha) * (np.exp(x) - _ONE), x),
    "selu": selu,
    "silu": lambda x: x * sigmoid(x),
    "softplus": lambda x, beta: softplus(x) if beta == 1 else softplus(x * F32(beta)) / F32(beta),
    "softsign": lambda x: x / (np.abs(x) + _ONE),
    "hard_sigmoid": hard_sigmoid,
    "leaky_relu": leaky_relu,
    "gelu": gelu,
    "elish": elish,
    "mish": mish,
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "pow": power,
    "max": maximum,
    "min": minimum,
    # tf.reduce_sum / reduce_prod over the stacked arguments start from +0 and 1.
    "sum_n": _reduce(np.add, 0.0),
    "prod_n": _reduce(np.multiply, None),
    "max_n": _reduce(maximum, None),
    "min_n": _reduce(minimum, None),
}


@exact_cache()  # hyper keyed bit for bit (actlang.exact)
def kernel(name: str, hyper: tuple[tuple[str, Any], ...] = ()) -> Kernel:
    """The float32 kernel of primitive ``name`` with hyperparameters ``hyper`` bound.

    Falls back to the registry's float64 reference, rounded to float32, for primitives without
    an AQuaSurF kernel here.
    """
    hp: Mapping[str, Any] = dict(hyper)
    if name in KERNELS:
        base = KERNELS[name]
        fn = functools.partial(base, **hp) if hp else base
    else:
        fn = functools.partial(_via_reference, name, hyper)

    def quiet(*args: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):  # inf and NaN are values here, as in TensorFlow
            return fn(*args)

    return quiet


def _via_reference(name: str, hyper: tuple[tuple[str, Any], ...], *args: np.ndarray) -> np.ndarray:
    from actlang.evaluate import reference
    from actlang.registry import lookup

    primitive = lookup(name)
    assert primitive is not None, name
    if primitive.stateful:  # learned tensors at their initial values, as evaluate() uses them
        hp = dict(hyper) | {learned.name: learned.initial(dict(hyper)) for learned in primitive.learned}
    else:
        hp = dict(hyper)
    wide = [np.asarray(a, dtype=np.float64) for a in args]
    return np.asarray(reference(primitive)(*wide, **hp), dtype=np.float64).astype(F32)
