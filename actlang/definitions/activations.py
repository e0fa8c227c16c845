"""Classic activations with PyTorch semantics, AQuaSurF's variants, and PReLU/RReLU.

Composites are written in actlang (``definition``): their reference and sympy form come from
expanding the definition; the torch template maps them onto PyTorch's fused native kernels.
Piecewise sympy forms put each kink on the side PyTorch's autograd does (relu: ``x > 0``, so
relu'(0) = 0; prelu: ``x >= 0``; hardtanh: clamped at both ends), because the symbolic layer
derives derivatives from them.
"""

from __future__ import annotations

from actlang.definitions.lazy import np, special
from actlang.registry import Hyper, Learned, Primitive, define

# F.selu's constants. actlang.inductor_math repeats them for the compiled SELU: importing it here
# would import torch into the command line's text commands.
SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
_TORCH = "PyTorch torch.nn.functional"


def act(name: str, doc: str, torch: str, source: str = _TORCH, **fields) -> None:
    define(Primitive(name=name, doc=doc, source=source, torch=torch, **fields))


act("sigmoid", "1 / (1 + e^{−x})", "torch.sigmoid({0})", numpy=special.expit,
    sympy=lambda sp, x: 1 / (1 + sp.exp(-x)), aquasurf="sigmoid",
    vjp="torch.ops.aten.sigmoid_backward({g}, {y})")
act("log_sigmoid", "log σ(x) = −softplus(−x)", "F.logsigmoid({0})", definition="-softplus(-x)",
    aliases=("logsigmoid",), aquasurf="log_sigmoid")
# softsign' = 1/(1 + |x|)² in one piece: the quotient rule's 1/(1 + |x|) − |x|/(1 + |x|)² (autograd
# of F.softsign too) cancels for large |x| (5e-4 relative error at |x| = 8,000 in float32).
act("softsign", "x / (1 + |x|)", "F.softsign({0})", definition="x / (1 + abs(x))", aquasurf="softsign",
    vjp="{g} / torch.square(torch.abs({0}) + 1.0)", local="torch.square(torch.abs({0}) + 1.0).reciprocal()")
act(
    "softplus", "log(1 + e^{βx}) / β (torch returns x where βx > 20)", "F.softplus({0}, beta={beta})",
    # torch's: x itself where βx > 20 (softplus(20.1) is 20.1, and βx may overflow where x does not)
    numpy=lambda x, beta: np.where(beta * x > 20.0, x, np.log1p(np.exp(np.minimum(beta * x, 20.0))) / beta),
    sympy=lambda sp, x, beta: sp.log(1 + sp.exp(beta * x)) / beta,
    hyper=(Hyper("beta", "float", 1.0, low=0, open_low=True, doc="sharpness"),), aquasurf="softplus",
    vjp="torch.ops.aten.softplus_backward({g}, {0}, {beta}, 20.0)",
)
# Signed zeros follow torch: relu(−0) = −0 (as torch.maximum(x, 0) keeps its first argument on a tie).
act("relu", "max(x, 0)", "torch.relu({0})", numpy=lambda x: np.where(x < 0, 0.0, x),
    sympy=lambda sp, x: sp.Piecewise((x, x > 0), (0, True)), aquasurf="relu",
    vjp="torch.ops.aten.threshold_backward({g}, {y}, 0.0)")
act("relu6", "min(max(x, 0), 6)", "F.relu6({0})", definition="hardtanh[min=0, max=6](x)",
    vjp="torch.ops.aten.hardtanh_backward({g}, {0}, 0.0, 6.0)")
act(
    "leaky_relu", "x for x ≥ 0, slope·x below (PyTorch's default slope; Keras 3's is 0.2: dialect='keras')",
    "F.leaky_relu({0}, {slope})",
    numpy=lambda x, slope: np.where(x > 0, x, slope * x),  # at ±0: slope·x, as torch (signed for slope ≤ −0)
    sympy=lambda sp, x, slope: sp.Piecewise((x, x > 0), (slope * x, True)),
    hyper=(Hyper("slope", "float", 0.01, doc="negative slope"),), aliases=("leakyrelu",), aquasurf="leakyrelu",
    vjp="torch.ops.aten.leaky_relu_backward({g}, {0}, {slope}, False)",
)
act(
    "elu", "x for x > 0, α(eˣ − 1) below", "kernels.elu({0}, {alpha})",
    # elu(±0) = ±0 for every α, as torch (α·expm1(−0) would be +0 for α ≤ −0)
    numpy=lambda x, alpha: np.where(x >= 0, x, alpha * np.expm1(np.where(x > 0, 0.0, x))),
    sympy=lambda sp, x, alpha: sp.Piecewise((x, x > 0), (alpha * (sp.exp(x) - 1), True)),
    hyper=(Hyper("alpha", "float", 1.0, doc="saturation value −α"),), aquasurf="elu",
    vjp="torch.ops.aten.elu_backward({g}, {alpha}, 1.0, 1.0, False, {0})",
)
act(
    "celu", "max(0, x) + min(0, α(e^{x/α} − 1))",
    # F.celu's backward is NaN for x < 0 once α < ~1e-100; this form's gradient e^{x/α} is not.
    "torch.where({0} > 0, {0}, {alpha} * kernels.expm1(torch.clamp({0}, max=0.0) / {alpha}))",
    numpy=lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.where(x > 0, 0.0, x) / alpha)),  # celu(−0) = −0
    sympy=lambda sp, x, alpha: sp.Piecewise((x, x > 0), (alpha * (sp.exp(x / alpha) - 1), True)),
    hyper=(Hyper("alpha", "float", 1.0, low=0, open_low=True),),
)
act("selu", f"{SELU_SCALE:.6f}·elu[α={SELU_ALPHA:.6f}](x), the self-normalising constants", "kernels.selu({0})",
    definition=f"{SELU_SCALE!r} * elu[alpha={SELU_ALPHA!r}](x)", aquasurf="selu",
    vjp=f"torch.ops.aten.elu_backward({{g}}, {SELU_ALPHA!r}, {SELU_SCALE!r}, 1.0, False, {{0}})")
act(
    "gelu", "x·Φ(x); approximate=tanh: x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))",
    lambda args, names: _gelu_torch(args[0], names["approximate"].strip("'\"")),
    numpy=lambda x, approximate: _gelu_numpy(x, approximate),
    sympy=lambda sp, x, approximate: _gelu_sympy(sp, x, approximate),
    hyper=(Hyper("approximate", "choice", "none", choices=("none", "tanh")),), aquasurf="gelu",
)
act("silu", "x·σ(x), a.k.a. swish", "F.silu({0})", definition="x * sigmoid(x)", aliases=("swish",),
    aquasurf="swish", vjp="torch.ops.aten.silu_backward({g}, {0})")
act("mish", "x·tanh(softplus(x))", "F.mish({0})", definition="x * tanh(softplus(x))", aquasurf="mish",
    vjp="torch.ops.aten.mish_backward({g}, {0})")
# Not aten's hardsigmoid_backward, which uses a float32 1/6; its mask, though (open interval, as
# relu6's): a gradient of ±inf or NaN from outside stays 0 on the flat sides, where g·step is NaN.
act("hardsigmoid", "relu6(x + 3) / 6 (PyTorch's; see hard_sigmoid)", "F.hardsigmoid({0})",
    definition="relu6(x + 3) / 6", vjp="torch.where(torch.abs({0}) < 3.0, {g} / 6.0, 0.0)")
# clip(v, 0, 1) written so that both ends belong to the sloped piece, as torch.clamp's gradient has it.
act("hard_sigmoid", "clip(0.2x + 0.5, 0, 1), Keras 2's, as AQuaSurF used", "torch.clamp(0.2 * {0} + 0.5, 0.0, 1.0)",
    source="Keras 2 hard_sigmoid (AQuaSurF)", aquasurf="hard_sigmoid",
    definition="select(-(0.2 * x + 0.5), 0, select(0.2 * x - 0.5, 1, 0.2 * x + 0.5))",
    # slope 0.2 on |x| ≤ 2.5, ends included: exactly where 0 ≤ 0.2x + 0.5 and 0.2x ≤ 0.5 in floating point
    vjp="torch.where(torch.abs({0}) <= 2.5, {g} * 0.2, 0.0)",  # masked: an infinite g stays 0 outside
    local="(torch.abs({0}) <= 2.5).to({0}.dtype).mul_(0.2)")
# aten's backward (exact in float64, unlike hardsigmoid's): the symbolic x·step(x)/6 + hardsigmoid(x)
# is inf·0 = NaN at x = ±inf, where the derivative is 1 and 0.
act("hardswish", "x · hardsigmoid(x)", "F.hardswish({0})", definition="x * hardsigmoid(x)",
    vjp="torch.ops.aten.hardswish_backward({g}, {0})")
act(
    "hardtanh", "clip(x, min, max)", "F.hardtanh({0}, {min}, {max})",
    numpy=lambda x, min, max: np.clip(x, min, max),
    sympy=lambda sp, x, min, max: sp.Piecewise((min, x <= min), (max, x >= max), (x, True)),
    hyper=(Hyper("min", "float", -1.0), Hyper("max", "float", 1.0)),
    check=lambda hp: None if hp["min"] < hp["max"] else "min must be below max",
    vjp="torch.ops.aten.hardtanh_backward({g}, {0}, {min}, {max})",
)
# kernels.tanhshrink: the series near 0, where x − tanh(x) cancels (F.tanhshrink is 0 there).
act("tanhshrink", "x − tanh(x)", "kernels.tanhshrink({0})", definition="x - tanh(x)",
    numpy=lambda x: _tanhshrink_numpy(x))
act(
    "softshrink", "x − λ above λ, x + λ below −λ, 0 between", "F.softshrink({0}, {lambd})",
    numpy=lambda x, lambd: np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0.0 * x)),  # NaN stays NaN
    sympy=lambda sp, x, lambd: sp.Piecewise((x - lambd, x > lambd), (x + lambd, x < -lambd), (0, True)),
    # aten's softshrink_backward/hardshrink_backward have no meta for symbolic shapes: inductor
    # could not build a backward kernel holding them. Their mask (0 on [−λ, λ], g elsewhere and at NaN):
    hyper=(Hyper("lambd", "float", 0.5, low=0),), vjp="torch.where(torch.abs({0}) <= {lambd}, 0.0, {g})",
)
act(
    "hardshrink", "x where |x| > λ, else 0", "F.hardshrink({0}, {lambd})",
    numpy=lambda x, lambd: np.where(np.abs(x) > lambd, x, 0.0 * np.abs(x)),  # NaN stays NaN, −0 → +0, as torch
    sympy=lambda sp, x, lambd: sp.Piecewise((x, sp.Abs(x) > lambd), (0, True)),
    hyper=(Hyper("lambd", "float", 0.5, low=0),), vjp="torch.where(torch.abs({0}) <= {lambd}, 0.0, {g})",
)
act(
    "elish", "x·σ(x) for x > 0, (eˣ − 1)·σ(x) below (ELiSH)",
    # expm1 sees min(x, 0) so the branch torch.where discards never overflows into a NaN gradient.
    "torch.sigmoid({0}) * torch.where({0} > 0, {0}, kernels.expm1(torch.clamp({0}, max=0.0)))",
    source="Basirat & Roth 2018 (ELiSH), as AQuaSurF used it",
    definition="sigmoid(x) * select(x, x, expm1(x))", aquasurf="elish",
)
act(
    "prelu", "x for x ≥ 0, a·x below; a learned (init 0.25)", "torch.where({0} >= 0, {0}, {a} * {0})",
    numpy=lambda x, a: np.where(x >= 0, x, a * x),
    sympy=lambda sp, x, a: sp.Piecewise((x, x >= 0), (a * x, True)),
    learned=(Learned("a", 0.25, doc="negative slope"),),
)
act(
    "rrelu", "x for x ≥ 0, r·x below: r ~ U(lower, upper) in training, (lower+upper)/2 otherwise",
    "kernels.rrelu({0}, {lower}, {upper}, {training})",
    numpy=lambda x, lower, upper: np.where(x >= 0, x, 0.5 * (lower + upper) * x),
    sympy=lambda sp, x, lower, upper: sp.Piecewise((x, x > 0), ((lower + upper) / 2 * x, True)),
    hyper=(Hyper("lower", "float", 1 / 8, low=0, high=1), Hyper("upper", "float", 1 / 3, low=0, high=1)),
    check=lambda hp: None if hp["lower"] <= hp["upper"] else "lower must not exceed upper",
    stochastic=True,
)


def _gelu_torch(x: str, approximate: str) -> str:
    # Tail-accurate forms of F.gelu's formulas: 1 + erf(x/√2) and 1 + tanh(z) cancel to 0 below
    # x ≈ -6.6 (float64) or -4 (float32), where x·Φ(x) is still ~1e-10; erfc and σ(2z) do not.
    if approximate == "tanh":  # x/2·(1 + tanh(z)) = x·σ(2z), z = √(2/π)(x + 0.044715x³)
        return f"{x} * torch.sigmoid(1.5957691216057308 * ({x} + 0.044715 * {x} * {x} * {x}))"
    return f"0.5 * {x} * torch.special.erfc(-0.7071067811865476 * {x})"  # x·Φ(x) = x/2·erfc(−x/√2)


def _gelu_numpy(x, approximate: str):
    if approximate == "tanh":
        return x * special.expit(2.0 * np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3))
    return x * special.ndtr(x)


def _gelu_sympy(sp, x, approximate: str):
    if approximate == "tanh":
        return x / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (x + sp.Rational(44715, 1000000) * x**3)))
    return x * (1 + sp.erf(x / sp.sqrt(2))) / 2


def _tanhshrink_numpy(x):
    # Independent of the torch form: x − tanh(x) in long double (80-bit on x86) above 0.01, where
    # it cancels mildly (≤ 2e-15 relative), and four series terms below (the next < 3e-18).
    x = np.asarray(x, dtype=np.float64)
    wide = x.astype(np.longdouble)
    direct = (wide - np.tanh(wide)).astype(np.float64)
    series = x**3 * (1 / 3 - x**2 * (2 / 15 - x**2 * (17 / 315 - x**2 * 62 / 2835)))
    return np.where(np.abs(x) < 0.01, series, direct)
