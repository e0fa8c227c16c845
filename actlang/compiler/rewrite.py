"""Idiom rewriting: AST -> AST, mapping compositions onto PyTorch's native fused kernels.

Each rule replaces a composition by the primitive that computes the same function with one
kernel (and, for autograd, one saved tensor): ``a*sigmoid(a) -> silu(a)``, ``max(a, 0) ->
relu(a)``, ``a*ndtr(a) -> gelu(a)``, ``a*tanh(softplus(a)) -> mish(a)``, ``a*hardsigmoid(a) ->
hardswish(a)``, ``a - tanh(a) -> tanhshrink(a)``, ``-softplus(-a) -> log_sigmoid(a)``,
``exp(a) - 1 -> expm1(a)``, ``log(1 + a) -> log1p(a)``, ``a^2 -> square(a)``, ``--a -> a``,
single-argument ``sum_n``/``prod_n``/``max_n``/``min_n`` -> the argument.

Only *pure* subtrees are merged (no learned tensors, no randomness): ``prelu(x)*sigmoid(prelu(x))``
names two distinct sites with their own parameters, so it must stay as written.
"""

from __future__ import annotations

from actlang.ast import Call, Expr, Num
from actlang.build import call
from actlang.registry import lookup

_ZERO = Num(0.0)
_ONE = Num(1.0)
_TWO = Num(2.0)
# f(a) * a -> g(a): the gate and the native kernel it becomes.
_GATES = {"sigmoid": "silu", "ndtr": "gelu", "hardsigmoid": "hardswish"}


def is_pure(expr: Expr) -> bool:
    """True when ``expr`` has no stateful or stochastic call: equal subtrees compute equal values."""
    match expr:
        case Call(name=name, args=args):
            primitive = lookup(name)
            assert primitive is not None, name
            return not (primitive.stateful or primitive.stochastic) and all(is_pure(a) for a in args)
    return True


def rewrite(expr: Expr) -> Expr:
    """``expr`` with every idiom (bottom-up) replaced by its native primitive; same function."""
    match expr:
        case Call(name=name, args=args, hyper=hyper) if args:
            node = Call(name, tuple(rewrite(a) for a in args), hyper, expr.span)
            return _idiom(node) or node
    return expr


def _idiom(node: Call) -> Expr | None:
    """The native form of one call whose arguments are already rewritten, or None."""
    args = node.args
    match node.name, args:
        case "mul", (a, Call(name=gate, args=(b,))) | (Call(name=gate, args=(b,)), a) if (
            gate in _GATES and a == b and is_pure(a)
        ):
            return call(_GATES[gate], a)
        case "mul", (a, Call(name="tanh", args=(Call(name="softplus", args=(b,), hyper=hp),))) | (
            Call(name="tanh", args=(Call(name="softplus", args=(b,), hyper=hp),)),
            a,
        ) if a == b and dict(hp).get("beta") == 1.0 and is_pure(a):
            return call("mish", a)
        case "max", (a, Num(value=0.0)) | (Num(value=0.0), a):
            return call("relu", a)
        case "sub", (a, Call(name="tanh", args=(b,))) if a == b and is_pure(a):
            return call("tanhshrink", a)
        case "sub", (Call(name="exp", args=(a,)), Num(value=1.0)):
            return call("expm1", a)
        case "log", (Call(name="add", args=(Num(value=1.0), a) | (a, Num(value=1.0))),):
            return call("log1p", a)
        case "neg", (Call(name="softplus", args=(Call(name="neg", args=(a,)),), hyper=hp),) if (
            dict(hp).get("beta") == 1.0
        ):
            return call("log_sigmoid", a)
        case "neg", (Call(name="neg", args=(a,)),):
            return a
        case "pow", (a, Num(value=2.0)):
            return call("square", a)
        case "sum_n" | "prod_n" | "max_n" | "min_n", (a,):
            return a
    return None
