"""AST -> straight-line torch statements, with common subexpressions computed once.

One :class:`Emitter` lowers any number of expressions (a function and its derivatives) into one
list of assignments ``tK = <template>``; equal pure subtrees (same node, by AST equality) share
one variable, so ``f`` and ``f'`` emitted together reuse ``sigmoid(x)``, ``softplus(x)``, ...
Stateful and stochastic calls are never shared: every occurrence is its own site ``<name>_<i>``
(numbered per primitive in evaluation order, as :func:`actlang.evaluate` numbers them).

Learned scalars are read once into locals ``p_<name>``, and scalar learned values of sites into
``q_<site>_<name>`` (distinct prefixes: a user's ``prelu_0_a`` never meets ``prelu_0``'s ``a``);
with ``channels`` they are reshaped to broadcast along ``channel_dim`` (``[-1] + [1] * trailing``).
Every other local (``x``, ``tK``, ``cshape``) has no user text in it. Subtrees with neither ``x`` nor a
parameter are folded to float literals by the numpy reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from actlang.ast import Call, Constant, Expr, Input, Num, Param, Sites, uses_input, walk
from actlang.compiler.rewrite import is_pure
from actlang.compiler.templates import Site, hyper_literal, literal, render
from actlang.errors import HyperparameterError
from actlang.evaluate import constant_value
from actlang.registry import Primitive, TorchTemplate, lookup

FLOAT32_MAX = 3.4028234663852886e38


@dataclass
class Layout:
    """Where learned values come from in the code being generated.

    ``param``: code reading learned scalar ``name`` (``self.beta``, or a function argument);
    ``learned``: code reading learned tensor ``name`` of site ``site`` (``self.prelu_0.a``);
    ``channel_dim``: broadcast dimension when parameters are per channel, else None.
    """

    param: Callable[[str], str] = lambda name: f"self.{name}"
    learned: Callable[[str, str], str] = lambda site, name: f"self.{site}.{name}"
    channel_dim: int | None = None
    reshape_learned: bool = True
    # Learned scalars are 0-d and x is floating: a value computed from x and them is shaped like
    # x and in x's dtype (0-d tensors neither broadcast x nor promote its dtype), so it may take
    # part in buffer reuse.
    scalar_params: bool = False


@dataclass(frozen=True)
class Step:
    """One statement ``t = code``: operation ``op`` of ``operands``, written from ``template``.

    ``op``: a primitive's name, or what the chain rule computes beside them (``vjp:silu``,
    ``mask:where``); ``template``: the torch template the code was made from (the primitive's,
    or the chain rule's own), which tells the buffer-reuse pass whether the code is one kernel call.
    ``operands``: (code, is_tensor) per argument; ``on_x``: computed from x and literals alone (no
    learned value), so shaped like x and, for floating x, in x's dtype. ``out``: the statement as a
    ``str.format`` pattern writing into ``{out}``, where its form is not a registry template (the
    chain rule's ``torch.ops.aten.silu_backward.grad_input(g, x, grad_input={out})``).
    ``stochastic``: random in training (its eval form may return its operand).
    """

    op: str
    template: TorchTemplate | None
    operands: tuple[tuple[str, bool], ...]
    code: str
    on_x: bool
    out: str | None = None
    stochastic: bool = False

    @classmethod
    def of(cls, primitive: Primitive, operands: tuple[tuple[str, bool], ...], code: str, on_x: bool) -> Step:
        """The statement of a registry primitive."""
        return cls(primitive.name, primitive.torch, operands, code, on_x, stochastic=primitive.stochastic)


@dataclass
class Emitter:
    """Collects statements; ``value(expr)`` returns (code, is_tensor) for an expression."""

    layout: Layout = field(default_factory=Layout)
    lines: list[str] = field(default_factory=list)
    params: dict[str, float] = field(default_factory=dict)
    sites: list[Site] = field(default_factory=list)
    numbering: Sites = field(default_factory=Sites)
    memo: dict[Expr, tuple[str, bool]] = field(default_factory=dict)
    shape_var: str | None = None
    bound: set[str] = field(default_factory=set)
    count: int = 0
    # Per variable assigned by a call: the primitive, its operands and its code (what the
    # buffer-reuse pass, actlang.compiler.buffers, reads and rewrites).
    steps: dict[str, Step] = field(default_factory=dict)

    def emit(self, code: str) -> str:
        name = f"t{self.count}"
        self.count += 1
        self.lines.append(f"{name} = {code}")
        return name

    def value(self, expr: Expr) -> tuple[str, bool]:
        """Code for ``expr`` and whether it is a tensor (False: a Python number literal)."""
        if expr in self.memo:
            return self.memo[expr]
        match expr:
            case Num(value=value) | Constant(value=value):
                result = literal(value), False
            case Input():
                result = "x", True
            case Param(name=name, init=init):
                self.params.setdefault(name, init)
                result = self._bind(f"p_{name}", self.layout.param(name)), True
            case Call(name=name, args=args, hyper=hyper):
                primitive = lookup(name)
                assert primitive is not None, name
                if primitive.stateful:  # a site's module expects x's shape (its channels, its dtype)
                    lowered = [(self.tensor(a), True) for a in args]
                else:
                    lowered = [self.value(a) for a in args]
                if not any(is_tensor for _, is_tensor in lowered) and not primitive.stateful:
                    result = literal(constant_value(expr)), False
                elif primitive.folds is not None and len(args) > 2:
                    result = self._fold_variadic(expr, primitive.folds, lowered)
                else:
                    code = self._call(primitive, lowered, hyper)
                    result = self.emit(code), True
                    on_x = uses_input(expr) and (not _learned(expr) or self._scalars(expr))
                    self.steps[result[0]] = Step.of(primitive, tuple(lowered), code, on_x)
            case _:
                raise TypeError(f"not an actlang expression: {expr!r}")
        if is_pure(expr):
            self.memo[expr] = result
        return result

    def _fold_variadic(self, expr: Call, folds: str, lowered: list[tuple[str, bool]]) -> tuple[str, bool]:
        """``sum_n``/``prod_n``/``max_n``/``min_n`` of many arguments as one statement of the binary
        primitive ``folds`` per argument, left to right (the same values as the one-line form, which
        Python cannot compile for hundreds of arguments: "too many nested parentheses")."""
        binary = lookup(folds)
        assert binary is not None, folds
        plain = not _learned(expr) or self._scalars(expr)
        accumulated, uses = lowered[0], uses_input(expr.args[0])
        for arg, operand in zip(expr.args[1:], lowered[1:], strict=True):
            operands = [accumulated, operand]
            uses = uses or uses_input(arg)
            code = self._call(binary, operands, ())
            if not (accumulated[1] or operand[1]) and binary.number_operands:
                accumulated = f"({code})", False  # two numbers: Python arithmetic, no tensor
                continue
            accumulated = self.emit(code), True
            self.steps[accumulated[0]] = Step.of(binary, tuple(operands), code, uses and plain)
        return accumulated

    def tensor(self, expr: Expr) -> str:
        """A variable holding ``expr`` as a tensor shaped like ``x`` (constants broadcast)."""
        code, is_tensor = self.value(expr)
        if not is_tensor:
            return self.emit(f"torch.zeros_like(x) + {code}")  # not full_like: 1e300 overflows float32
        if not uses_input(expr):
            return self.emit(f"{code} + torch.zeros_like(x)")  # shaped like x, as every activation
        return code

    def _scalars(self, expr: Expr) -> bool:
        """Whether every learned value ``expr`` reads is a 0-d learned scalar (see Layout)."""
        return self.layout.scalar_params and not any(
            isinstance(n, Call) and getattr(lookup(n.name), "stateful", True) for n in walk(expr)
        )

    def _bind(self, local: str, source: str) -> str:
        """Assign a learned value to a local once, reshaped per channel when needed."""
        if local not in self.bound:
            self.bound.add(local)
            if self.layout.channel_dim is not None:
                source = f"{source}.reshape({self._shape()})"
            self.lines.append(f"{local} = {source}")
        return local

    def _shape(self) -> str:
        if self.shape_var is None:
            dim = self.layout.channel_dim
            assert dim is not None
            trailing = f"x.dim() - {dim + 1}" if dim >= 0 else str(-dim - 1)
            self.shape_var = "cshape"
            self.lines.append(f"cshape = [-1] + [1] * ({trailing})")
        return self.shape_var

    def _call(self, primitive: Primitive, lowered: list[tuple[str, bool]], hyper) -> str:
        args = [
            # A 0-d tensor in x's dtype: broadcasts, and a constant beyond float32's range becomes
            # inf (as a float32 computation would) instead of an overflow error.
            code if is_tensor or primitive.number_operands else _scalar(code)
            for code, is_tensor in lowered
        ]
        _check_range(primitive, hyper)
        names: dict[str, str] = {k: hyper_literal(v) for k, v in hyper}
        if primitive.stateful:
            site = self.numbering.next(primitive.name)
            self.sites.append(Site(site, primitive, hyper, len(args)))
            if primitive.module is not None:
                return f"self.{site}({', '.join(args)})"
            hp = dict(hyper)
            for learned in primitive.learned:
                source = self.layout.learned(site, learned.name)
                local = f"q_{site}_{learned.name}"  # q_: never a user name's p_ local
                if learned.shape(hp) == () and self.layout.reshape_learned:
                    names[learned.name] = self._bind(local, source)
                else:
                    names[learned.name] = source
        if primitive.stochastic:
            names["training"] = "self.training"
        return render(primitive, args, names)


def _check_range(primitive: Primitive, hyper: tuple) -> None:
    """A hyperparameter that torch passes to its kernel as a scalar must fit float32, the dtype
    modules compute in by default: ``F.elu(x, 1e308)`` on float32 fails inside torch ("cannot be
    converted to type float without overflow"). Stateful primitives read theirs in float64."""
    if primitive.stateful:
        return
    for key, value in hyper:
        if isinstance(value, float) and abs(value) > FLOAT32_MAX:
            raise HyperparameterError(
                f"{primitive.name}'s {key}={value:g} is beyond float32's range (±{FLOAT32_MAX:.4g}), "
                "which compiled modules compute in",
                hint=f"use |{key}| <= {FLOAT32_MAX:.4g}",
            )


def _scalar(code: str) -> str:
    return f"torch.tensor({code}, dtype=x.dtype, device=x.device)"


def _learned(expr: Expr) -> bool:
    """Whether ``expr`` reads a learned value (a parameter, or a primitive with learned tensors)."""
    match expr:
        case Param():
            return True
        case Call(name=name, args=args):
            primitive = lookup(name)
            return primitive is None or primitive.stateful or any(_learned(a) for a in args)
    return False


def function_source(name: str, signature: str, lines: list[str], result: str, returns: str = "") -> str:
    """A Python function definition with ``lines`` as its straight-line body."""
    body = "".join(f"    {line}\n" for line in lines)
    annotation = f" -> {returns}" if returns else ""
    return f"def {name}({signature}){annotation}:\n{body}    return {result}\n"
