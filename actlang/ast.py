"""The actlang abstract syntax tree: five immutable node types.

An activation is a tree of

- :class:`Num` — a non-negative finite constant (``-2`` is ``neg(Num(2))``, so every tree has
  exactly one spelling and ``parse(format(e)) == e`` holds);
- :class:`Input` — the input ``x``;
- :class:`Constant` — ``pi`` or ``e``;
- :class:`Param` — a learned scalar, with the initial value a ``where`` clause gives it;
- :class:`Call` — a primitive (operators included: ``a + b`` is ``Call("add", (a, b))``) with its
  canonical name, arguments and fully resolved hyperparameters sorted by key.

Source positions (``span``) and nesting ``depth`` ride along but never take part in equality.
Build calls with :func:`actlang.call`, which resolves aliases and validates hyperparameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from actlang.errors import Span

HyperValue: TypeAlias = float | int | bool | str
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
RESERVED_NAMES = frozenset({"x", *CONSTANTS, "where", "true", "false"})


# How a tree prints: :mod:`actlang.printer` installs its ``format_expr`` here when it is imported
# (``import actlang`` imports it). The printer needs the node types below and the registry's
# operator table, so this module cannot import it without an import cycle.
_printer: Callable[[Expr], str] | None = None


def install_printer(format_expr: Callable[[Expr], str]) -> None:
    """Make ``format_expr`` the text of every tree (``str(expr)``); called by the printer."""
    global _printer
    _printer = format_expr


def _text(expr: Expr) -> str:
    if _printer is None:
        raise RuntimeError("actlang.printer is not loaded; import actlang first")
    return _printer(expr)


def _expr_repr(expr: Expr) -> str:
    """``actlang.parse('relu(x) + 1')``: reads as actlang text, and evaluates back to an equal tree."""
    try:
        return f"actlang.parse({_text(expr)!r})"
    except Exception:  # a hand-built tree the printer rejects: the fields, as dataclasses show them
        fields = ", ".join(f"{name}={getattr(expr, name)!r}" for name in expr.__dataclass_fields__ if name != "span")
        return f"{type(expr).__name__}({fields})"


class _Node:
    """What every node shares: its text is the printer's (``str(expr)``)."""

    __slots__ = ()

    def __str__(self) -> str:
        return _text(self)  # type: ignore[arg-type]


class _Leaf(_Node):
    """A node without children: depth 1."""

    __slots__ = ()

    @property
    def depth(self) -> int:
        return 1


@dataclass(frozen=True, slots=True)
class Num(_Leaf):
    """A literal constant, never learned. Always finite and >= 0; negation is a ``neg`` call."""

    __repr__ = _expr_repr

    value: float
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value >= 0) or math.copysign(1, self.value) < 0:
            raise ValueError(f"Num holds finite non-negative values only, got {self.value!r}")
        object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True, slots=True)
class Input(_Leaf):
    """The activation's input ``x``."""

    __repr__ = _expr_repr

    span: Span | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return "x"


@dataclass(frozen=True, slots=True)
class Constant(_Leaf):
    """A mathematical constant: ``pi`` or ``e``."""

    __repr__ = _expr_repr

    name: str
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.name not in CONSTANTS:
            raise ValueError(f"unknown constant {self.name!r}; constants are {sorted(CONSTANTS)}")

    @property
    def value(self) -> float:
        return CONSTANTS[self.name]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Param(_Leaf):
    """A learned scalar parameter; ``init`` is its initial value (1.0 unless a ``where`` says)."""

    __repr__ = _expr_repr

    name: str
    init: float = 1.0
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name in RESERVED_NAMES:
            raise ValueError(f"{self.name!r} cannot name a parameter")
        if not math.isfinite(self.init):
            raise ValueError(f"initial value of {self.name!r} must be finite, got {self.init!r}")
        object.__setattr__(self, "init", float(self.init))

    # Equal only with the same sign of zero too: ``p = -0.0`` and ``p = 0.0`` differ (1/p starts
    # at -inf or +inf), so neither a cache nor shared code may take one for the other. (The hash
    # may equate them: equal hashes only make ``==`` decide.)
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Param):
            return NotImplemented
        same = self.name == other.name and self.init == other.init
        return same and _zero_signs((self.init,)) == _zero_signs((other.init,))

    def __hash__(self) -> int:
        return hash((self.name, self.init))


@dataclass(frozen=True, slots=True)
class Call(_Node):
    """A primitive applied to arguments: ``name[hyper](args...)``.

    ``name`` is canonical (aliases resolved) and ``hyper`` holds every hyperparameter of the
    primitive, defaults included, as ``(key, value)`` pairs sorted by key.
    """

    __repr__ = _expr_repr

    name: str
    args: tuple[Expr, ...]
    hyper: tuple[tuple[str, HyperValue], ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)
    depth: int = field(default=1, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", 1 + max((a.depth for a in self.args), default=0))

    # Hyperparameters compare with their signs of zero: ``hardtanh[min=-0.0]`` and
    # ``hardtanh[min=0.0]`` have poles of opposite signs under ``reciprocal``, so the compiler's
    # shared subexpressions and every cache keyed by a tree must keep them apart. (The hash may
    # equate them: equal hashes only make ``==`` decide, and hashing stays as cheap as before.)
    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Call):
            return NotImplemented
        return (
            self.name == other.name
            and self.hyper == other.hyper
            and _zero_signs(v for _, v in self.hyper) == _zero_signs(v for _, v in other.hyper)
            and self.args == other.args
        )

    def __hash__(self) -> int:
        return hash((self.name, self.args, self.hyper))

    @property
    def hp(self) -> dict[str, HyperValue]:
        """The hyperparameters as a dict."""
        return dict(self.hyper)


Expr: TypeAlias = Num | Input | Constant | Param | Call


def _zero_signs(values: Iterable[object]) -> tuple[bool, ...]:
    """Which float zeros among ``values`` are -0.0 (``0.0 == -0.0``, so ``==`` alone can't tell)."""
    return tuple(math.copysign(1.0, v) < 0 for v in values if isinstance(v, float) and v == 0)


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of ``expr`` in evaluation order (children left to right, then the node).

    Iterative: nested generators would cost O(nodes × depth) on a long chain such as a sum of
    150 terms, and recurse as deep as the tree."""
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded or not isinstance(node, Call):
            yield node
        else:
            stack.append((node, True))
            stack.extend((arg, False) for arg in reversed(node.args))


def contains(expr: Expr, kind: type | tuple[type, ...]) -> bool:
    """Whether some node of ``expr`` is an instance of ``kind`` (``Input``: does it use ``x``)."""
    return any(isinstance(node, kind) for node in walk(expr))


def uses_input(expr: Expr) -> bool:
    """Whether ``x`` occurs in ``expr`` (``zero(x)`` uses it: its shape comes from x)."""
    return contains(expr, Input)


@dataclass
class Sites:
    """Names of the sites of stateful primitives: ``<name>_<i>``, numbered per primitive in
    evaluation order (the order of :func:`walk`).

    Every pass that meets a primitive with learned tensors names its occurrence with one of these:
    the compiler's submodules, :func:`actlang.evaluate`'s qualified parameter names
    (``prelu_0.a``), the sympy symbols of learned tensors, and collapsing a mixture. Calling
    :meth:`next` for each stateful call in evaluation order gives all of them the same names.
    """

    counts: dict[str, int] = field(default_factory=dict)

    def next(self, name: str) -> str:
        """The next site of primitive ``name``: ``name_0``, then ``name_1``, ..."""
        index = self.counts.get(name, 0)
        self.counts[name] = index + 1
        return f"{name}_{index}"


def params(expr: Expr) -> dict[str, float]:
    """Learned scalar parameters by name, in order of first appearance, with initial values."""
    found: dict[str, float] = {}
    for node in walk(expr):
        if isinstance(node, Param):
            found.setdefault(node.name, node.init)
    return found


def with_inits(expr: Expr, values: Mapping[str, float]) -> Expr:
    """``expr`` with each learned scalar's initial value replaced from ``values`` (by name)."""
    match expr:
        case Param(name=name) if name in values:
            return Param(name, values[name], expr.span)
        case Call(name=name, args=args, hyper=hyper):
            return Call(name, tuple(with_inits(a, values) for a in args), hyper, expr.span)
    return expr


def substitute_input(expr: Expr, replacement: Expr) -> Expr:
    """``expr`` with every ``x`` replaced by ``replacement`` (f, g ↦ f∘g)."""
    match expr:
        case Input():
            return replacement
        case Call(name=name, args=args, hyper=hyper):
            return Call(name, tuple(substitute_input(a, replacement) for a in args), hyper, expr.span)
    return expr
