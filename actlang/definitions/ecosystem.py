"""Names other libraries give activations, written in actlang, and their dialects.

Each composite is an actlang expression of ``x`` that reproduces the owning library's formula
(tests compare them on 10,000 points in float64 to 1e-12 relative). Read from the sources:

- HuggingFace ``transformers.activations.ACT2CLS``: ``gelu_new``, ``gelu_accurate``,
  ``gelu_pytorch_tanh`` and ``gelu_python_tanh`` are ``x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))``
  (= gelu's tanh form); ``gelu_fast`` is the same with the constant 0.7978845608 written out;
  ``quick_gelu`` ``x·σ(1.702x)``; ``gelu_10`` gelu clipped to [−10, 10]; ``relu2`` ``relu(x)²``;
  ``laplace`` ``½(1 + erf((x − 0.707107)/(0.282095·√2)))`` = ``Φ((x − 0.707107)/0.282095)``;
  ``sqrtsoftplus`` ``√softplus(x)``; ``linear`` the identity; ``xielu`` (learned α_p, α_n; β = 0.5,
  ε = −1e-6): ``softplus(α_p)x² + βx`` for x > 0, ``(expm1(min(x, ε)) − x)(β + softplus(α_n)) + βx``
  otherwise, α_p and α_n initialised so that the softplus terms are 0.8 and 0.3.
- timm ``layers/create_act.py``: ``gelu_tanh`` (F.gelu tanh), ``quick_gelu``, ``hard_sigmoid`` =
  ``hardsigmoid`` = ``relu6(x + 3)/6``, ``hard_swish`` = ``hardswish``, ``hard_mish`` =
  ``x/2·clip(x + 2, 0, 2)``; timm lower-cases names before the lookup.
- Keras 3 ``keras.activations``: ``hard_sigmoid`` = clip(x/6 + 1/2, 0, 1), ``hard_silu`` (alias
  ``hard_swish``) = x·hard_sigmoid(x), ``leaky_relu`` with negative_slope 0.2, ``squareplus[b=4]``
  = ``(x + √(x² + b))/2``, ``sparse_plus`` = 0 below −1, ``(x + 1)²/4`` on (−1, 1), x above,
  ``sparse_sigmoid`` = clip((x + 1)/2, 0, 1), ``tanh_shrink``, ``soft_shrink``, ``hard_shrink``,
  ``hard_tanh``, ``exponential``, ``linear``; ``softmax``, ``log_softmax``, ``glu`` and
  ``sparsemax`` work along an axis and are no activations in actlang's sense.

Two names mean different functions in different libraries. actlang reads ``hard_sigmoid`` as
Keras 2's ``clip(0.2x + 0.5, 0, 1)`` (AQuaSurF's, docs/ecosystem.md) and warns where it is read without a
dialect; ``leaky_relu``'s slope defaults to PyTorch's 0.01. ``dialect="keras"`` / ``"timm"`` read
them as those libraries do (see docs/ecosystem.md).
"""

from __future__ import annotations

from actlang.definitions.lazy import np
from actlang.registry import AMBIGUOUS, NOT_POINTWISE, Hyper, Primitive, define, define_alias, define_library

_HF = "HuggingFace transformers ACT2FN"
_TIMM = "timm create_act_layer"
_KERAS = "Keras 3 keras.activations"


def _squareplus_numpy(x, b):
    # (x + √(x² + b))/2 cancels for x ≪ 0; there it equals b / (2(√(x² + b) − x)).
    root = np.sqrt(np.square(x) + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, 0.5 * (x + root), 0.5 * b / (root - x))


# A primitive, not a composite: its stable form for x < 0 is not an actlang expression that
# evaluates accurately term by term. Both branches see x clamped to their side, so the branch
# torch.where discards can neither overflow nor give it a NaN gradient.
_POS, _NEG = "torch.clamp({0}, min=0.0)", "torch.clamp({0}, max=0.0)"
_ROOT = f"torch.sqrt(torch.square({_NEG}) + {{b}})"
# The derivative (1 + x/√(x² + b))/2 cancels the same way for x ≪ 0 (0 at x = −1e4 in float32,
# where it is 1e-8): there it is b / (2√(x² + b)(√(x² + b) − x)); for x > 0, x/√(x² + b) is
# 1/√(1 + b/x²), which does not overflow.
_SLOPE = (f"0.5 * torch.where({{0}} > 0, 1.0 + torch.rsqrt(1.0 + {{b}} / torch.square({_POS})), "
          f"{{b}} / ({_ROOT} * ({_ROOT} - {_NEG})))")
define(Primitive(
    name="squareplus", doc="(x + √(x² + b)) / 2, a smooth relu (Keras 3)", source=f"{_KERAS}.squareplus",
    torch=f"0.5 * torch.where({{0}} > 0, {_POS} + torch.sqrt(torch.square({_POS}) + {{b}}), "
          f"{{b}} / ({_ROOT} - {_NEG}))",
    vjp=f"{{g}} * ({_SLOPE})", local=_SLOPE,
    numpy=_squareplus_numpy, definition="(x + sqrt(x^2 + b)) / 2",
    hyper=(Hyper("b", "float", 4.0, low=0, open_low=True, doc="smoothness near 0"),),
))

_GELU_TANH = "gelu[approximate=tanh](x)"
for _name, _source in (
    ("gelu_tanh", f"{_TIMM} gelu_tanh"), ("gelu_new", f"{_HF} gelu_new"), ("gelu_accurate", f"{_HF} gelu_accurate"),
    ("gelu_pytorch_tanh", f"{_HF} gelu_pytorch_tanh"), ("gelu_python_tanh", f"{_HF} gelu_python_tanh"),
):
    define_alias(_name, _GELU_TANH, _source, "x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))")
define_alias("gelu_python", "gelu(x)", f"{_HF} gelu_python", "x/2·(1 + erf(x/√2))")
define_alias("gelu_fast", "x * sigmoid(1.5957691216 * x * (1 + 0.044715 * x^2))", f"{_HF} gelu_fast",
             "x/2·(1 + tanh(0.7978845608·x·(1 + 0.044715x²)))")
define_alias("quick_gelu", "x * sigmoid(1.702 * x)", f"{_HF} quick_gelu, {_TIMM} quick_gelu", "x·σ(1.702x)")
define_alias("gelu_10", "hardtanh[min=-10, max=10](gelu(x))", f"{_HF} gelu_10", "gelu clipped to [−10, 10]")
define_alias("relu2", "relu(x)^2", f"{_HF} relu2", "relu(x)², squared ReLU")
define_alias("laplace", "ndtr((x - 0.707107) / 0.282095)", f"{_HF} laplace",
             "½(1 + erf((x − 0.707107)/(0.282095·√2))), MEGA's attention activation")
define_alias("sqrtsoftplus", "sqrt(softplus(x))", f"{_HF} sqrtsoftplus", "√softplus(x)")
define_alias("linear", "identity(x)", f"{_HF} linear, {_KERAS}.linear", "x")
define_alias(
    "xielu",
    "select(x, softplus(alpha_p) * x^2 + 0.5 * x, (expm1(min(x, -1e-06)) - x) * (0.5 + softplus(alpha_n)) + 0.5 * x)"
    " where alpha_p = 0.2033823208110246, alpha_n = -1.0502256128148468",
    f"{_HF} xielu", "xIELU: softplus(α_p)x² + x/2 above 0, (expm1(min(x, −1e-6)) − x)(½ + softplus(α_n)) + x/2 below",
)
define_alias("hard_swish", "hardswish(x)", f"{_TIMM} hard_swish, {_KERAS}.hard_swish", "x·relu6(x + 3)/6")
define_alias("hard_silu", "hardswish(x)", f"{_KERAS}.hard_silu", "x·relu6(x + 3)/6")
define_alias("hard_mish", "0.5 * x * hardtanh[min=0, max=2](x + 2)", f"{_TIMM} hard_mish", "x/2·clip(x + 2, 0, 2)")
define_alias("hard_tanh", "hardtanh(x)", f"{_KERAS}.hard_tanh", "clip(x, −1, 1)")
define_alias("tanh_shrink", "tanhshrink(x)", f"{_KERAS}.tanh_shrink", "x − tanh(x)")
define_alias("soft_shrink", "softshrink(x)", f"{_KERAS}.soft_shrink", "softshrink, λ = 0.5")
define_alias("hard_shrink", "hardshrink(x)", f"{_KERAS}.hard_shrink", "hardshrink, λ = 0.5")
define_alias("exponential", "exp(x)", f"{_KERAS}.exponential", "eˣ")
define_alias("sparse_plus", "select(x - 1, x, select(x + 1, 0.25 * (x + 1)^2, 0))", f"{_KERAS}.sparse_plus",
             "0 for x ≤ −1, (x + 1)²/4 on (−1, 1), x for x ≥ 1")
define_alias("sparse_sigmoid", "hardtanh[min=0, max=1]((x + 1) / 2)", f"{_KERAS}.sparse_sigmoid",
             "clip((x + 1)/2, 0, 1)")

# Every key each library defines for an elementwise activation (docs/ecosystem.md, tests).
define_library("hf", (
    "gelu", "gelu_10", "gelu_fast", "gelu_new", "gelu_python", "gelu_pytorch_tanh", "gelu_python_tanh",
    "gelu_accurate", "hardswish", "laplace", "leaky_relu", "linear", "mish", "quick_gelu", "relu", "relu2",
    "relu6", "sigmoid", "silu", "sqrtsoftplus", "swish", "tanh", "prelu", "xielu",
), source=_HF)
define_library("timm", (
    "silu", "swish", "mish", "relu", "relu6", "leaky_relu", "elu", "prelu", "celu", "selu", "gelu", "gelu_tanh",
    "quick_gelu", "sigmoid", "tanh", "hard_sigmoid", "hard_swish", "hard_mish", "identity", "hardsigmoid",
    "hardswish",
), differs={"hard_sigmoid": "hardsigmoid(x)"}, source=_TIMM)
define_library("keras", (
    "relu", "leaky_relu", "relu6", "elu", "selu", "softplus", "softsign", "soft_shrink", "sparse_plus", "silu",
    "swish", "squareplus", "gelu", "celu", "tanh", "tanh_shrink", "hard_tanh", "hard_shrink", "sigmoid",
    "sparse_sigmoid", "exponential", "hard_sigmoid", "hard_silu", "hard_swish", "linear", "mish", "log_sigmoid",
), differs={"hard_sigmoid": "hardsigmoid(x)", "leaky_relu": "leaky_relu[slope=0.2](x)"}, source=_KERAS)
define_library("torch", ("relu", "relu6", "leaky_relu", "elu", "celu", "selu", "gelu", "silu", "mish",
                         "hardsigmoid", "hardswish", "hardtanh", "sigmoid", "tanh", "softplus", "softsign",
                         "tanhshrink", "softshrink", "hardshrink", "logsigmoid", "prelu", "rrelu"),
               source="PyTorch torch.nn.functional")
define_library("aquasurf", (), source="AQuaSurF (Keras 2 hard_sigmoid)")

NOT_POINTWISE.update({
    "softmax": "softmax normalises over an axis (each output depends on the whole row)",
    "log_softmax": "log_softmax normalises over an axis (each output depends on the whole row)",
    "softmin": "softmin normalises over an axis (each output depends on the whole row)",
    "sparsemax": "sparsemax projects each row onto the simplex (each output depends on the whole row)",
    "glu": "glu splits its input in two halves along an axis and gates one with the other (the output is "
           "half as wide)",
})
AMBIGUOUS.update({
    "hard_sigmoid": "hard_sigmoid is Keras 2's clip(0.2x + 0.5, 0, 1), as AQuaSurF uses it; PyTorch, timm and "
    "Keras 3 mean relu6(x + 3)/6, which actlang calls hardsigmoid",
})
