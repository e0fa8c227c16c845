"""The primitive registry: one :class:`Primitive` record per primitive, defined once.

A record carries everything every pass needs — torch code template, sympy form, independent
numpy/scipy reference, hyperparameters with types and ranges, learned parameters with initial
values, arity, pointwise/stochastic flags, infix spelling, AQuaSurF name, and a doc line with its
source. Parser, printer, evaluator, compiler, docs, CLI listing and parametrized tests all read
these records, so adding a primitive means adding one ``define(...)`` call in
``actlang/definitions/``. The definitions register themselves: ``import actlang`` imports that
package before anything else, so this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from actlang.ast import HyperValue
from actlang.hyper import REQUIRED as REQUIRED  # re-exported: the definitions import it from here
from actlang.hyper import Hyper as Hyper
from actlang.hyper import HyperKind as HyperKind
from actlang.hyper import show


@dataclass(frozen=True)
class Learned:
    """A learned tensor of a primitive (e.g. PReLU's slope ``a``).

    ``init`` is a number or a function of the hyperparameters; ``shape`` a function of them giving
    the per-module shape (``()`` for a scalar). ``channels=C`` in the compiler prepends ``C``.
    """

    name: str
    init: float | Callable[[Mapping[str, HyperValue]], Any]
    shape: Callable[[Mapping[str, HyperValue]], tuple[int, ...]] = lambda hp: ()
    doc: str = ""

    def initial(self, hp: Mapping[str, HyperValue]) -> Any:
        return self.init(hp) if callable(self.init) else self.init


TorchTemplate = str | Callable[[Sequence[str], Mapping[str, str]], str]

# Binding strength of a piece of text, lowest first (the grammar's levels: sum, product, prefix
# minus, power, atom); an operand printed at a weaker level than its slot needs gets parentheses.
SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Operator:
    """How an operator is written, read and run as Python arithmetic.

    - ``tokens``: what the parser reads as it (``("^", "**")``); the first is its spelling.
    - ``text``: its printed form over the operands' text, ``"{0} + {1}"``, ``"{0}^{1}"``, ``"-{0}"``.
    - ``level``: the binding strength of that text; ``operands``: the strength each operand slot
      needs (``a - (b - c)``: a sum's right operand must bind as tightly as a product).
    - ``function``: the torch function the Python operator of its torch template calls
      (``{0} + {1}`` is ``torch.add``), so that the compiler can give it an ``out=`` buffer;
      ``commutative``: ``2.0 * t`` is ``torch.mul(t, 2.0)``.
    """

    tokens: tuple[str, ...]
    text: str
    level: int
    operands: tuple[int, ...]
    function: str | None = None
    commutative: bool = False


@dataclass(frozen=True)
class Primitive:
    """One primitive, defined once.

    - ``torch``: code for the compiler — a ``str.format`` template over argument variables
      ``{0}``, ``{1}``, ... and hyperparameter/learned names (``{beta}``, ``{a}``), or a function
      ``(args, names) -> code`` for variadic primitives. Names in scope: ``torch``, ``F``. ``None``
      for a composite (one with a ``definition``): the compiler inlines the definition.
    - ``numpy``: independent float64 reference ``(*args, **hyper, **learned) -> ndarray``.
    - ``sympy``: elementary form ``(sp, *args, **hyper, **learned) -> sympy.Expr``, with the
      sympy module passed in so that importing actlang does not import sympy; ``None`` = opaque.
    - ``definition``: the primitive written in actlang itself (hyperparameter names usable as
      bare names); when given, ``sympy`` defaults to expanding it, and so does ``numpy`` — but the
      tests compare the definition with an independent implementation (the ``numpy`` reference,
      else the torch template), so a composite without a template gives its ``numpy`` reference.
      ``simplify`` recognises a composite whose hyperparameters are all numbers written as bare
      names at any of their values (``(x + sqrt(x^2 + 1))/2`` is ``squareplus[b=1](x)``).
    - ``arity``: number of arguments; ``None`` for variadic (at least ``min_args``).
    - ``learned``: learned tensors (name, initial value, shape). Primitives with only these are
      lowered through the template (``{a}`` names the tensor).
    - ``module``: for primitives whose state needs more than a template (CPAB θ with methods,
      ASH statistics, mixture weights): ``"package.module:Factory"``, called as
      ``Factory(hp, channels, channel_dim)`` (variadic ones also get ``arity=n``) to build the ``nn.Module`` of one site
      (``<name>_<i>``, numbered per primitive in evaluation order); its forward takes the
      argument tensors. Its parameters are named as in ``learned``.
    - ``pointwise``: False for primitives that use statistics of the whole tensor (ASH).
    - ``stochastic``: random in training (templates see ``training``); deterministic otherwise.
    - ``vjp``: optional vector-Jacobian product of a one-argument primitive as a torch template,
      ``{g}``·f'(``{0}``) in terms of the adjoint ``{g}``, the argument ``{0}``, the call's value
      ``{y}`` and hyperparameter names — PyTorch's native backward kernel where there is one
      (``torch.ops.aten.silu_backward({g}, {0})``); the compiler's chain rule uses it in place of
      the symbolic derivative. Its values must agree with that derivative, kinks included.
    - ``local``: optional f'(``{0}``) itself as a torch template, for a ``vjp`` primitive whose
      adjoint is a constant (the root of an expression), so that no tensor of ones is multiplied.
    - ``operator``: infix spelling and precedence of an operator (:class:`Operator`); the parser,
      the printer and the compiler read them from here.
    - ``number_operands``: its torch template takes Python numbers in operand slots (Python
      arithmetic, ``torch.pow``), so constant operands need not become tensors.
    - ``folds``: a variadic reduction's binary primitive (``sum_n`` folds ``add`` left to right),
      which the compiler emits one statement per argument.
    """

    name: str
    doc: str
    source: str
    torch: TorchTemplate | None
    numpy: Callable[..., Any] | None = None
    sympy: Callable[..., Any] | None = None
    definition: str | None = None
    arity: int | None = 1
    min_args: int = 1
    hyper: tuple[Hyper, ...] = ()
    learned: tuple[Learned, ...] = ()
    aliases: tuple[str, ...] = ()
    pointwise: bool = True
    stochastic: bool = False
    operator: Operator | None = None
    number_operands: bool = False
    folds: str | None = None
    aquasurf: str | None = None
    module: str | None = None
    check: Callable[[Mapping[str, HyperValue]], str | None] | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    vjp: str | None = None
    local: str | None = None

    @property
    def infix(self) -> str | None:
        """The operator's spelling (``+``), or None for a primitive written as a call."""
        return self.operator.tokens[0] if self.operator is not None else None

    @property
    def stateful(self) -> bool:
        """True when the compiled primitive owns learned tensors (a submodule ``<name>_<i>``)."""
        return bool(self.learned) or self.module is not None

    @property
    def opaque(self) -> bool:
        """True when the primitive has no elementary sympy form."""
        return self.sympy is None and self.definition is None

    def hyper_spec(self, key: str) -> Hyper | None:
        return next((h for h in self.hyper if h.name == key), None)

    def accepts(self, count: int) -> bool:
        return count == self.arity if self.arity is not None else count >= self.min_args

    def arity_text(self) -> str:
        if self.arity is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.arity} argument{'s' if self.arity != 1 else ''}"

    def signature(self) -> str:
        """``softplus[beta=1](x)``-style summary for tables and messages."""
        hyper = ", ".join(
            h.name if h.default is REQUIRED
            else f"{h.name}={h.default if isinstance(h.default, str) else show(h.default)}"  # as written in actlang
            for h in self.hyper
        )
        fixed = {0: "", 1: "x"}.get(self.arity, ", ".join("abcdefgh"[: self.arity or 0]))
        args = fixed if self.arity is not None else "a, ..."
        return f"{self.name}{f'[{hyper}]' if hyper else ''}({args})"


@dataclass(frozen=True)
class Alias:
    """A name other libraries use, written in actlang: ``text`` is an expression of ``x``.

    ``quick_gelu`` is ``x * sigmoid(1.702 * x)``, ``gelu_tanh`` is ``gelu[approximate=tanh](x)``.
    A call ``name(arg)`` is ``text`` with ``x`` replaced by ``arg``, so it prints canonically (as
    its expansion). An alias that is one primitive applied to ``x`` also takes that primitive's
    hyperparameters, except the ones the alias itself sets to non-default values.
    ``source`` names the libraries (and keys) whose formula it reproduces.
    """

    name: str
    text: str
    source: str
    doc: str = ""


REGISTRY: dict[str, Primitive] = {}
ALIASES: dict[str, str] = {}
COMPOSITES: dict[str, Alias] = {}
"""Names from other libraries that are expressions of existing primitives (``gelu_new``, ``relu2``)."""
DIALECTS: dict[str, dict[str, Alias]] = {}
"""Per library, the names whose meaning there differs from actlang's (``keras``: ``hard_sigmoid``)."""
LIBRARY_NAMES: dict[str, tuple[str, ...]] = {}
"""Per library, every activation key it defines that actlang reads (all tested against its formula)."""
NOT_POINTWISE: dict[str, str] = {}
"""Library activations that are not elementwise functions (``softmax``, ``glu``), and why."""
AMBIGUOUS: dict[str, str] = {}
"""Names with different meanings across libraries: a note for the warning the default dialect gives."""


def define(primitive: Primitive) -> Primitive:
    """Register ``primitive``; its name and aliases must be new. Every cached table derived from
    the registry is forgotten (see :func:`derived`): one built before would lack ``primitive``."""
    for name in (primitive.name, *primitive.aliases):
        if name in REGISTRY or name in ALIASES:
            raise RuntimeError(f"primitive name {name!r} defined twice")
    REGISTRY[primitive.name] = primitive
    for alias in primitive.aliases:
        ALIASES[alias] = primitive.name
    _forget_derived()
    return primitive


def unregister(name: str) -> None:
    """Remove the primitive ``name`` and its aliases (a primitive defined for a while, as tests
    do), and forget every cached table derived from the registry (see :func:`derived`)."""
    primitive = REGISTRY.pop(name)
    for alias in primitive.aliases:
        ALIASES.pop(alias, None)
    _forget_derived()


def _forget_derived() -> None:
    for clear in _DERIVED:
        clear()


_DERIVED: list[Callable[[], None]] = []


def derived(cached: Any) -> Any:
    """Mark a ``functools.cache``'d function whose value depends on the registered primitives
    (the parser's operator table, the symbolic patterns): :func:`unregister` clears it."""
    _DERIVED.append(cached.cache_clear)
    return cached


def define_alias(name: str, text: str, source: str, doc: str = "") -> Alias:
    """Register the composite ``name`` = ``text`` (an actlang expression of ``x``)."""
    if name in REGISTRY or name in ALIASES or name in COMPOSITES:
        raise RuntimeError(f"primitive name {name!r} defined twice")
    COMPOSITES[name] = Alias(name, text, source, doc)
    return COMPOSITES[name]


def define_library(library: str, names: Sequence[str], differs: Mapping[str, str] = (), source: str = "") -> None:
    """Register ``library``'s activation keys; ``differs`` maps the keys that mean something else
    there than in actlang to their actlang text (the ``dialect=library`` reading)."""
    LIBRARY_NAMES[library] = tuple(names)
    DIALECTS[library] = {name: Alias(name, text, source or library) for name, text in dict(differs).items()}


def composite(name: str, dialect: str | None = None) -> Alias | None:
    """The alias ``name`` stands for in ``dialect`` (``None``: actlang's own names), or ``None``."""
    if dialect is not None and name in DIALECTS.get(dialect, {}):
        return DIALECTS[dialect][name]
    return COMPOSITES.get(name)


def lookup(name: str) -> Primitive | None:
    """The primitive named ``name`` (canonical or alias), or ``None``."""
    primitive = REGISTRY.get(name)
    if primitive is None and name in ALIASES:
        primitive = REGISTRY[ALIASES[name]]
    return primitive


def all_names() -> list[str]:
    """Every canonical name, alias and composite, for did-you-mean hints."""
    return [*REGISTRY, *ALIASES, *COMPOSITES]


def primitives() -> list[Primitive]:
    """Every registered primitive, in definition order."""
    return list(REGISTRY.values())

