"""AST to straight-line PyTorch code: one assignment per node, from each primitive's template.

``generate(expr)`` returns the source of a ``forward(self, x)`` method: learned scalars are
``self.<name>``, a primitive's learned tensors ``self.<site>.<name>`` (sites ``<primitive>_<i>``
numbered per primitive in evaluation order), module primitives are called as ``self.<site>(...)``
and stochastic ones see ``self.training``. Subtrees without ``x`` or parameters are folded to
float literals with the numpy reference, so templates only ever see tensors or numbers.
User text reaches the source only as float literals and grammar-checked identifiers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from actlang.ast import Call, Constant, Expr, HyperValue, Input, Num, Param
from actlang.registry import Primitive, lookup

# Templates that accept a Python number in place of a tensor operand.
_NUMBER_OK = frozenset({"add", "sub", "mul", "div", "neg", "pow", "sum_n", "prod_n"})


@dataclass(frozen=True)
class Site:
    """One stateful primitive occurrence: submodule name, primitive, hyperparameters, and the
    number of arguments (variadic module primitives such as ``mix`` size their state by it)."""

    name: str
    primitive: Primitive
    hyper: tuple[tuple[str, HyperValue], ...]
    arity: int = 1


@dataclass(frozen=True)
class Lowered:
    """Generated ``forward`` source with the parameters and sites it refers to."""

    source: str
    params: dict[str, float]
    sites: tuple[Site, ...]


def literal(value: float) -> str:
    """A float literal valid in Python and TorchScript (``math.inf``/``math.nan`` for non-finite)."""
    if math.isnan(value):
        return "math.nan"
    if math.isinf(value):
        return "math.inf" if value > 0 else "-math.inf"
    return repr(float(value))


def hyper_literal(value: HyperValue) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return repr(value)
    return repr(value) if isinstance(value, int) else literal(value)


class _Emitter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.params: dict[str, float] = {}
        self.sites: list[Site] = []
        self.counters: dict[str, int] = {}

    def emit(self, code: str) -> str:
        name = f"t{len(self.lines)}"
        self.lines.append(f"    {name} = {code}")
        return name

    def lower(self, expr: Expr) -> tuple[str, bool]:
        """Code for ``expr`` and whether it is a tensor (False: a Python number)."""
        match expr:
            case Num(value=value) | Constant(value=value):
                return literal(value), False
            case Input():
                return "x", True
            case Param(name=name, init=init):
                self.params.setdefault(name, init)
                return f"self.{name}", True
            case Call(name=name, args=args, hyper=hyper):
                lowered = [self.lower(a) for a in args]
                primitive = lookup(name)
                assert primitive is not None, name
                if not any(is_tensor for _, is_tensor in lowered) and not primitive.stateful:
                    return literal(_fold(expr)), False
                return self.emit(self.call(primitive, lowered, hyper)), True
        raise TypeError(f"not an actlang expression: {expr!r}")

    def call(self, primitive: Primitive, lowered: list[tuple[str, bool]], hyper) -> str:
        as_tensor = "torch.tensor({}, dtype=x.dtype, device=x.device)"
        number_ok = primitive.name in _NUMBER_OK
        args = [code if is_tensor or number_ok else as_tensor.format(code) for code, is_tensor in lowered]
        names: dict[str, str] = {k: hyper_literal(v) for k, v in hyper}
        if primitive.stateful:
            site = f"{primitive.name}_{self.counters.setdefault(primitive.name, 0)}"
            self.counters[primitive.name] += 1
            self.sites.append(Site(site, primitive, hyper, len(args)))
            if primitive.module is not None:
                return f"self.{site}({', '.join(args)})"
            names |= {learned.name: f"self.{site}.{learned.name}" for learned in primitive.learned}
        if primitive.stochastic:
            names["training"] = "self.training"
        return render(primitive, args, names)


def render(primitive: Primitive, args: list[str], names: Mapping[str, str]) -> str:
    """The primitive's torch template filled with argument variables and named values."""
    template = primitive.torch
    if template is None:
        raise NotImplementedError(f"{primitive.name} has no torch template")
    if callable(template):
        return template(args, names)
    return template.format(*args, **names)


def _fold(expr: Expr) -> float:
    from actlang.evaluate import evaluate

    return float(evaluate(expr, 0.0))


def generate(expr: Expr) -> Lowered:
    """Straight-line ``forward`` source for ``expr``."""
    emitter = _Emitter()
    result, is_tensor = emitter.lower(expr)
    if not is_tensor:
        result = emitter.emit(f"torch.full_like(x, {result})")
    elif not _uses_input(expr):
        result = emitter.emit(f"{result} + torch.zeros_like(x)")  # shaped like x, as every activation
    body = "\n".join(emitter.lines) or "    pass"
    source = f"def forward(self, x: torch.Tensor) -> torch.Tensor:\n{body}\n    return {result}\n"
    return Lowered(source, emitter.params, tuple(emitter.sites))


def _uses_input(expr: Expr) -> bool:
    match expr:
        case Input():
            return True
        case Call(args=args):
            return any(_uses_input(a) for a in args)
    return False


def instantiate(expr: Expr):
    """A plain ``nn.Module`` running the generated forward of ``expr`` (the compiler's core).

    Learned scalars become ``nn.Parameter``s initialised from the expression; template
    primitives' learned tensors live in one submodule per site.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    lowered = generate(expr)
    namespace = {"torch": torch, "F": F, "math": math}
    exec(compile(lowered.source, "<actlang>", "exec"), namespace)  # generated, never user text
    module = type("Lowered", (nn.Module,), {"forward": namespace["forward"]})()
    for name, init in lowered.params.items():
        setattr(module, name, nn.Parameter(torch.tensor(init)))
    for site in lowered.sites:
        if site.primitive.module is not None:
            raise NotImplementedError(f"{site.primitive.name}: module primitives need actlang.compile")
        holder = nn.Module()
        hp = dict(site.hyper)
        for learned in site.primitive.learned:
            value = torch.as_tensor(learned.initial(hp), dtype=torch.get_default_dtype())
            setattr(holder, learned.name, nn.Parameter(value.clone()))
        setattr(module, site.name, holder)
    module.code = lowered.source
    return module
