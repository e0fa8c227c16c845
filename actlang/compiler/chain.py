"""Reverse-mode chain rule over the AST, emitted as straight-line statements.

For f = root(...) the adjoint of a node n is seed·∂f/∂n (seed 1 in a forward block, the incoming
gradient ``g`` in a backward block). Adjoints flow top-down: the root gets the seed; a call with
adjoint A hands each argument that depends on x or a learned scalar A·∂call/∂arg, where

- a primitive with a registry ``vjp`` template (PyTorch's native backward kernel:
  ``silu_backward(A, u)``, ``sigmoid_backward(A, y)``) computes A·f'(u) in one kernel;
- operators use their rules (``a*b``: A·b and A·a; ``a/b``: A/b and −(A·y)/b; ``max(a, b)``:
  A·H(a − b), A·(1 − H(a − b)) with H = 0.5·sign + 0.5, so H(0) = 1/2 as torch.maximum splits ties
  (and 1/2 where a − b is NaN, where f is NaN too); ``select(c, a, b)``: A where c > 0, else 0);
- any other one-argument primitive uses its own symbolic derivative f'(u) (``actlang.derivative``
  of ``name(x)``, with u substituted), times A.

Equal subtrees are one node (the Emitter's common subexpressions): each is visited once, after
every use has added its part to its adjoint (reverse post-order is a topological order of the
DAG). Statements go into the caller's :class:`~actlang.compiler.codegen.Emitter`, so the local
derivatives share values with f (``softplus(x)``, ``y``). Adjoints of x and of learned scalars
come back as lists of products (A, b) — summed for a tensor, or reduced as dot products.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from actlang.ast import Call, Expr, Input, Param, contains, substitute_input, walk
from actlang.build import call
from actlang.compiler.codegen import Emitter, Step
from actlang.compiler.rewrite import fold_coefficients, reflect_steps, rewrite
from actlang.compiler.templates import hyper_literal, literal
from actlang.evaluate import constant_value
from actlang.exact import exact_cache
from actlang.registry import TorchTemplate, lookup

_ATEN = re.compile(r"torch\.ops\.aten\.(\w+)\((.*)\)")
# A value in generated code: a tensor variable (str) or a Python number folded at generation.
Value = str | float
Derivative = Callable[[Expr, str], Expr]


@dataclass
class Adjoints:
    """Seed·∂f/∂x and seed·∂f/∂p as sums of products ``a·b`` (``b`` may be the number 1)."""

    x: list[tuple[Value, Value]] = field(default_factory=list)
    params: dict[str, list[tuple[Value, Value]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Negated:
    """A part of an adjoint that is −value: the sum subtracts it (one pass, not a negation and an add)."""

    value: str


class NoRule(Exception):
    """A call with no chain rule here (no closed-form local derivative): use another candidate."""


def adjoints(emitter: Emitter, expr: Expr, seed: Value, derivative: Derivative, wanted: str = "xp") -> Adjoints:
    """Emit the reverse sweep of ``expr`` (already emitted as f) into ``emitter``.

    ``wanted``: ``"x"`` and/or ``"p"`` — which leaves need adjoints (the sweep skips subtrees
    without them). Raises :class:`NoRule` when some call has no local derivative.
    """
    order: list[Expr] = []
    seen: set[Expr] = set()
    for node in walk(expr):
        if node not in seen:
            seen.add(node)
            order.append(node)
    active = {node for node in order if _active(node, wanted)}
    sweep = _Sweep(emitter, derivative, active)
    pending: dict[Expr, list[Value | Negated]] = {expr: [seed]}
    result = Adjoints()
    for node in reversed(order):
        parts = pending.pop(node, [])
        if not parts or node not in active:
            continue
        match node:
            case Input():
                result.x.extend(map(_pair, parts))
            case Param(name=name):
                result.params.setdefault(name, []).extend(map(_pair, parts))
            case Call():
                total = sweep.total(parts)
                if total == 0.0:  # a branch not taken (select on a constant): nothing flows below
                    continue
                for child, contribution in sweep.rule(node, total):
                    if isinstance(child, Input | Param) and isinstance(contribution, tuple):
                        target = result.x if isinstance(child, Input) else result.params.setdefault(child.name, [])
                        target.append(contribution)
                    else:
                        value = sweep.product(*contribution) if isinstance(contribution, tuple) else contribution
                        pending.setdefault(child, []).append(value)
    return result


def _pair(part: Value | Negated) -> tuple[Value, Value]:
    return (part.value, -1.0) if isinstance(part, Negated) else (part, 1.0)


def combine(emitter: Emitter, parts: list[tuple[Value, Value]]) -> Value:
    """The sum of products ``a·b`` as one value (emitted into ``emitter``)."""
    sweep = _Sweep(emitter, _no_derivative, set())
    return sweep.total([sweep.product(a, b) for a, b in parts])


def _no_derivative(expr: Expr, wrt: str) -> Expr:
    raise NoRule(str(expr))


def _active(node: Expr, wanted: str) -> bool:
    """Whether ``node`` depends on a leaf that needs an adjoint."""
    kinds = tuple(kind for kind, key in ((Input, "x"), (Param, "p")) if key in wanted)
    return contains(node, kinds)


@dataclass
class _Sweep:
    emitter: Emitter
    derivative: Derivative
    active: set[Expr]

    def value(self, expr: Expr) -> Value:
        code, is_tensor = self.emitter.value(expr)
        return code if is_tensor else constant_value(expr)

    def step(self, name: str, operands: list[Value]) -> Value:
        """Emit one operator statement (recorded for the buffer-reuse pass)."""
        primitive = lookup(name)
        assert primitive is not None
        lowered = tuple((v, True) if isinstance(v, str) else (literal(v), False) for v in operands)
        code = primitive.torch.format(*(c for c, _ in lowered))  # type: ignore[union-attr]
        return self._record(primitive.name, primitive.torch, lowered, code)

    def _record(
        self, op: str, template: TorchTemplate | None, lowered: tuple[tuple[str, bool], ...], code: str,
        out: str | None = None,
    ) -> str:
        """Emit ``code`` as the statement of ``op`` (recorded for the buffer-reuse pass)."""
        target = self.emitter.emit(code)
        self.emitter.steps[target] = Step(op, template, lowered, code, self._on_x(lowered), out)
        return target

    def _on_x(self, lowered: tuple[tuple[str, bool], ...]) -> bool:
        """Whether a result is shaped like x in x's dtype (see :class:`~actlang.compiler.codegen.Layout`):
        its tensors are x, the seed g, saved values, on-x results, or (with scalar_params) learned scalars."""
        steps = self.emitter.steps
        tensors = [c for c, is_tensor in lowered if is_tensor]
        shaped = [c in ("x", "g") or c.startswith("s[") or (c in steps and steps[c].on_x) for c in tensors]
        scalars = self.emitter.layout.scalar_params or not self.emitter.params
        small = [scalars and c.startswith("p_") for c in tensors]
        return any(shaped) and all(a or b for a, b in zip(shaped, small, strict=True))

    def product(self, a: Value, b: Value) -> Value | Negated:
        if isinstance(a, str) and b == -1.0:
            return Negated(a)
        if a == 0.0 or b == 0.0:  # a zero local derivative adds nothing (as the symbolic one drops it)
            return 0.0
        if isinstance(a, float) and isinstance(b, float):
            return a * b
        if a == 1.0 or b == 1.0:
            return b if a == 1.0 else a
        if a == -1.0 or b == -1.0:
            return self.step("neg", [b if a == -1.0 else a])
        return self.step("mul", [a, b])

    def total(self, parts: list[Value | Negated]) -> Value:
        """The sum of an adjoint's parts (numbers folded first, negated parts subtracted)."""
        numbers = sum(p for p in parts if isinstance(p, float))
        tensors = [p for p in parts if isinstance(p, str)]
        negated = [p.value for p in parts if isinstance(p, Negated)]
        if not tensors and negated:
            tensors.append(self.step("neg", [negated.pop(0)]))
        result: Value = tensors[0] if tensors else numbers
        for part in tensors[1:]:
            result = self.step("add", [result, part])
        for part in negated:
            result = self.step("sub", [result, part])
        if tensors and numbers != 0.0:
            result = self.step("add", [result, numbers])
        return result

    def rule(self, node: Call, adjoint: Value) -> list[tuple[Expr, tuple[Value, Value] | Value]]:
        """(argument, its part of the adjoint) for each active argument; a part is a product (A, b)
        or an emitted value."""
        args = node.args
        live = [a in self.active for a in args]
        match node.name, args:
            case "add" | "sum_n", _:
                return [(a, (adjoint, 1.0)) for a, on in zip(args, live, strict=True) if on]
            case "sub", (a, b):
                return [(a, (adjoint, 1.0))] * live[0] + [(b, (adjoint, -1.0))] * live[1]
            case "neg", (a,):
                return [(a, (adjoint, -1.0))]
            case "mul", (a, b):
                return [(a, (adjoint, self.value(b)))] * live[0] + [(b, (adjoint, self.value(a)))] * live[1]
            case "prod_n", _:
                return [(a, (adjoint, self._rest(args, i))) for i, a in enumerate(args) if live[i]]
            case "div", (a, b):  # A/b to a, −(A·(a/b))/b to b: a division each, no reciprocal
                return [(a, self._quotient(adjoint, 1.0, b))] * live[0] + [
                    (b, self._quotient(adjoint, self.value(node), b, negate=True))
                ] * live[1]
            case "pow", (a, b):
                return [(a, (adjoint, self._pow_base(a, b)))] * live[0] + [
                    (b, (adjoint, self._pow_exponent(node, a, b)))
                ] * live[1]
            case "max" | "min" | "max_n" | "min_n", (_, _):
                return self._extremum(node, adjoint)
            case "select", (c, a, b):
                return [(a, self._gate(c, adjoint, True))] * live[1] + [(b, self._gate(c, adjoint, False))] * live[2]
            case "heaviside" | "sign", _:
                return []  # zero wherever the derivative exists (autograd's convention)
        if len(args) != 1:
            raise NoRule(node.name)
        return [(args[0], self._unary(node, adjoint))]

    def _pow_base(self, a: Expr, b: Expr) -> Value:
        """∂(a^b)/∂a = b·a^(b−1), and 0 where b = 0 (autograd's rule: the 0·0^(−1) of a constant
        power's base gradient is 0, not NaN)."""
        derivative = self.local(call("mul", b, call("pow", a, call("sub", b, 1.0))))
        exponent = self.value(b)
        if isinstance(exponent, float) or isinstance(derivative, float):
            return 0.0 if exponent == 0.0 else derivative
        return self._masked(f"{exponent} == 0", derivative, (exponent, derivative))

    def _pow_exponent(self, node: Expr, a: Expr, b: Expr) -> Value:
        """∂(a^b)/∂b = a^b·log(a), and 0 where a = 0 and b ≥ 0 (autograd's rule: the limit of
        0^b·log 0 is 0, where the product is 0·(−inf) = NaN)."""
        derivative = self.local(call("mul", node, call("log", a)))
        base, exponent = self.value(a), self.value(b)
        if isinstance(derivative, float) or (isinstance(base, float) and base != 0.0):
            return derivative
        if isinstance(base, float):  # 0^b: NaN-free only where the mask holds
            return self._masked(f"{_code(exponent)} >= 0", derivative, (exponent, derivative))
        condition = f"({base} == 0) & ({_code(exponent)} >= 0)"
        return self._masked(condition, derivative, (base, exponent, derivative))

    def _masked(self, condition: str, value: str, operands: tuple[Value, ...]) -> str:
        """``torch.where(condition, 0.0, value)``: a local derivative with autograd's zeros."""
        code = f"torch.where({condition}, 0.0, {value})"
        lowered = tuple((v, True) if isinstance(v, str) else (literal(v), False) for v in operands)
        return self._record("mask:where", code, lowered, code)

    def _quotient(self, adjoint: Value, factor: Value, b: Expr, negate: bool = False) -> Value | Negated | tuple:
        """±A·factor / b, dividing once (a constant A·factor: a product with the value of 1/b)."""
        numerator = self.product(adjoint, factor)
        if isinstance(numerator, float):
            return (-numerator if negate else numerator, self.value(call("div", 1.0, b)))
        assert isinstance(numerator, str)
        quotient = self.step("div", [numerator, self.value(b)])
        return Negated(quotient) if negate else quotient

    def local(self, expr: Expr) -> Value:
        """The value of a local-derivative expression after the derivative passes."""
        return self.value(fold_coefficients(reflect_steps(rewrite(expr))))

    def _rest(self, args: tuple[Expr, ...], skip: int) -> Value:
        others = [a for i, a in enumerate(args) if i != skip]
        return self.value(functools.reduce(lambda p, q: call("mul", p, q), others))

    def _extremum(self, node: Call, adjoint: Value) -> list:
        """max/min as torch.maximum/minimum: the larger (smaller) side gets A, a tie splits it.

        A tensor adjoint is masked as autograd's rule does (``where(a == b, A/2, A)``, then 0 on
        the losing side): an infinite A (``sqrt(max(x, 1) − 1)`` where the max is flat) gives the
        losing side 0, where A·0 is NaN. A number A takes the step H(a − b) (1/2 at a tie),
        0.5·sign(a − b) + 0.5: exact, three cheap passes where the heaviside template takes eight
        (NaN where a − b is NaN, where f is NaN too).
        """
        upper = node.name in ("max", "max_n")
        a, b = node.args
        difference = self.value(call("sub", a, b))
        assert isinstance(difference, str)  # an active argument makes it a tensor
        wanted = [arg in self.active for arg in (a, b)]
        if isinstance(adjoint, str):
            losing = ("<", ">") if upper else (">", "<")  # where each side gets nothing
            sides = zip((a, b), losing, wanted, strict=True)
            return [(arg, self._split(difference, adjoint, side)) for arg, side, on in sides if on]
        signed = self._record("sign:torch", "torch.sign({0})", ((difference, True),), f"torch.sign({difference})")
        step = self.step("add", [self.step("mul", [signed, 0.5]), 0.5])
        rest: Value = 0.0
        if wanted[1] if upper else wanted[0]:
            rest = self.step("sub", [1.0, step])  # 1 − H(a − b)
        locals_ = (step, rest) if upper else (rest, step)
        return [(arg, (adjoint, local)) for arg, local, on in zip((a, b), locals_, wanted, strict=True) if on]

    def _split(self, difference: str, adjoint: str, losing: str) -> str:
        """A side's part of a max/min adjoint: 0 where ``difference losing 0``, A/2 at a tie, else A."""
        code = f"torch.where({difference} {losing} 0, 0.0, torch.where({difference} == 0, {adjoint} * 0.5, {adjoint}))"
        return self._record("mask:where", code, ((difference, True), (adjoint, True)), code)

    def _gate(self, condition: Expr, adjoint: Value, taken: bool) -> Value | tuple[Value, Value]:
        """A where ``condition > 0`` (``taken``) or elsewhere, 0 on the other side (never A·0)."""
        c = self.value(condition)
        if isinstance(c, float):  # decided by torch, as the forward's torch.where (a denormal may flush to 0)
            step = f"(torch.tensor({literal(c)}, dtype=x.dtype, device=x.device) > 0).to(x.dtype)"
            return (adjoint, self.emitter.emit(step if taken else f"1.0 - {step}"))
        if isinstance(adjoint, float):
            mask = call("select", condition, 1.0, 0.0) if taken else call("select", condition, 0.0, 1.0)
            return (adjoint, self.value(mask))
        where = lookup("select")
        assert where is not None
        branches = (adjoint, 0.0) if taken else (0.0, adjoint)
        lowered = tuple((v, True) if isinstance(v, str) else (literal(v), False) for v in (c, *branches))
        code = where.torch.format(*(v for v, _ in lowered))  # type: ignore[union-attr]
        return self._record(where.name, where.torch, lowered, code)

    def _unary(self, node: Call, adjoint: Value) -> Value | tuple[Value, Value]:
        primitive = lookup(node.name)
        assert primitive is not None
        if primitive.local is not None and isinstance(adjoint, float):
            u = self.value(node.args[0])
            assert isinstance(u, str)
            names = {k: hyper_literal(v) for k, v in node.hyper}
            code = primitive.local.format(u, **names)
            return (self._record(f"local:{primitive.name}", primitive.local, ((u, True),), code), adjoint)
        if primitive.vjp is not None:
            gradient = adjoint if isinstance(adjoint, str) else self._ones()
            u = self.value(node.args[0])
            y = self.value(node)
            names = {k: hyper_literal(v) for k, v in node.hyper}
            assert isinstance(u, str) and isinstance(y, str)
            code = primitive.vjp.format(u, g=gradient, y=y, **names)
            operands = ((u, True), (gradient, True), (y, True))
            result = self._record(f"vjp:{primitive.name}", primitive.vjp, operands, code, _grad_input(code))
            return result if isinstance(adjoint, str) else (result, adjoint)
        form = _local_form(self.derivative, node.name, node.hyper)
        return (adjoint, self.local(substitute_input(form, node.args[0])))

    def _ones(self) -> str:
        return self.emitter.value(call("one", Input()))[0]


@exact_cache()  # keyed bit for bit: slope=-0.0 is not slope=0.0 (actlang.exact)
def _local_form(derivative: Derivative, name: str, hyper: tuple) -> Expr:
    """d name(x) / dx, once per (primitive, hyperparameters)."""
    from actlang.compiler.deadline import limited

    try:
        return limited(lambda: derivative(Call(name, (Input(),), hyper), "x"))
    except Exception as error:  # no closed form (opaque, Bessel derivatives), or out of time: no chain rule
        raise NoRule(f"{name}: {error}") from None


def _grad_input(code: str) -> str | None:
    """``torch.ops.aten.X(args)`` as its ``X.grad_input(args, grad_input={out})`` form, if it has one."""
    match = _ATEN.fullmatch(code)
    if match is None or not hasattr(getattr(torch.ops.aten, match.group(1)), "grad_input"):
        return None
    escaped = match.group(2).replace("{", "{{").replace("}", "}}")
    return f"torch.ops.aten.{match.group(1)}.grad_input({escaped}, grad_input={{out}})"


def _code(value: Value) -> str:
    return value if isinstance(value, str) else literal(value)
