"""A compiled expression, independent of any parameter values: source, class, fused function.

:func:`program` turns (expression tree, per-channel?, channel_dim) into a :class:`Program`, once:
the idiom rewrite, code generation, ``exec`` of the generated source (:mod:`.loading`, registered
in ``linecache`` so ``inspect``/TorchScript can read it) and a subclass of :class:`ActivationModule`
whose ``plain_forward`` is that code. Programs are cached by tree (text is made only for ``repr``
and pickling); they hold no tensors, so every module built from one has its own parameters. The
fused autograd function (which needs the symbolic derivative, the slow part) is built on first
use, also once per program.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actlang.ast import Call, Expr, Input, params, uses_input, walk
from actlang.compiler import inductor
from actlang.compiler.codegen import Emitter, Layout, function_source
from actlang.compiler.loading import load_source
from actlang.compiler.module import ActivationModule
from actlang.compiler.names import attribute_names
from actlang.compiler.rewrite import rewrite
from actlang.compiler.templates import Site
from actlang.errors import ActlangError
from actlang.parser import parse
from actlang.registry import lookup

_UNBUILT: Any = object()


def rebuild(text: str, options: tuple, state: Mapping[str, Any]) -> ActivationModule:
    """The module that pickled as ``(text, options, state)`` (see ``ActivationModule.__reduce__``):
    generated classes are not importable, so a module travels as its canonical text and state."""
    channels, channel_dim, memory_efficient, training, *rest = options
    fuse = {"on": True, "off": False}.get(rest[0], "auto") if rest else "auto"  # ActivationModule.fusion
    expression = parse(text, dialect="actlang")  # canonical text: actlang's own names
    built = program(expression, channels is not None, channel_dim)
    module = built.cls(channels=channels, channel_dim=channel_dim, memory_efficient=memory_efficient, fuse=fuse)
    module.load_state_dict(state)
    return module.train(training)


@dataclass
class Program:
    """Everything compiled about one expression; shared by the modules built from it."""

    text: str
    expression: Expr
    lowered: Expr
    source: str
    params: dict[str, float]
    attrs: dict[str, str]  # learned-scalar name -> the module attribute holding it (see names.py)
    sites: tuple[Site, ...]
    per_channel: bool
    channel_dim: int
    fusable: bool
    cls: type = field(init=False, repr=False)
    _fused: Any = field(default=_UNBUILT, init=False, repr=False)

    # How a module of this program unpickles (ActivationModule.__reduce__; module.py imports nothing
    # from the compiler, so it reaches this function through its program).
    rebuild = staticmethod(rebuild)

    @staticmethod
    def fusion_mode(fuse: object) -> str:
        """``"auto"``, ``"on"`` or ``"off"`` for a ``fuse`` option (what ``ActivationModule.fusion`` holds)."""
        found = inductor.mode(fuse)
        if found is None:
            raise ActlangError(f"fuse must be 'auto', true or false, got {fuse!r}")
        return found

    def kernel_forward(self, fusion: str, x: Any, values: list) -> Any:
        """f(x) through the fused inductor kernels, or ``None`` where ``fusion`` keeps the unfused
        path (see :mod:`actlang.compiler.inductor`)."""
        return inductor.forward(self, fusion, x, values)

    def fused(self) -> Any:
        """The training function (``None`` when the expression cannot be fused); built on first use,
        its strategy chosen by the static cost model."""
        if self._fused is _UNBUILT:
            self._fused = _build_fused(self) if self.fusable else None
        return self._fused


# Bounds of the fused path. Its build differentiates f (sympy) and prices every candidate, which
# grows faster than the expression; activations are far smaller than these, and past them the
# module trains through plain autograd, with the same values. The symbolic work of a build is
# bounded in time too (actlang.compiler.deadline).
FUSE_DEPTH = 32  # nesting depth of the expression
FUSE_NODES = 256  # nodes of the expression
FUSE_WIDTH = 16  # arguments of one variadic call (sum_n, max_n, ...)


def _build_fused(built: Program) -> Any:
    """The fused function of ``built`` (None when none can be built)."""
    from actlang.compiler.deadline import budget
    from actlang.compiler.fused import build_fused

    try:
        with budget():
            return build_fused(built, "auto")
    except RecursionError:  # a derivative deeper than the interpreter allows: plain autograd
        return None


@functools.cache
def _dispatch() -> str:
    """Source of ``ActivationModule.forward``, which every generated subclass defines again in
    its own generated file (TorchScript compiles methods from their source)."""
    import inspect
    import textwrap

    return textwrap.dedent(inspect.getsource(ActivationModule.forward))


@functools.lru_cache(maxsize=1024)
def program(expression: Expr, per_channel: bool, channel_dim: int) -> Program:
    """The cached program of ``expression``, keyed by the tree (spans and depths take no part).

    Trees compare signs of zero (:class:`~actlang.ast.Call`), so ``leaky_relu[slope=-0](x)``, which
    prints apart and may compute apart (``1/leaky_relu[slope=-0](x)``), gets its own program.
    """
    text = str(expression)  # for repr and pickling only
    lowered = rewrite(expression)
    attrs = attribute_names(params(lowered))
    layout = Layout(param=lambda name: f"self.{attrs[name]}", channel_dim=channel_dim if per_channel else None)
    emitter = Emitter(layout)
    result = emitter.tensor(lowered)
    source = function_source("plain_forward", "self, x: torch.Tensor", emitter.lines, result, "torch.Tensor")
    built = Program(
        text=text, expression=expression, lowered=lowered, source=source, params=dict(emitter.params),
        attrs=attrs, sites=tuple(emitter.sites), per_channel=per_channel, channel_dim=channel_dim,
        fusable=_fusable(expression) and not _native(lowered),
    )
    # forward is generated per class too: torch.compile caches by code object, and one shared
    # forward would make every compiled expression a recompilation of the same frame.
    scope = load_source(source + "\n\n" + _dispatch(), {})
    methods = {"plain_forward": scope["plain_forward"], "forward": scope["forward"], "program": built}
    built.cls = type("ActivationModule", (ActivationModule,), methods)
    built.cls.__qualname__ = "ActivationModule"
    return built


def _native(lowered: Expr) -> bool:
    """One native kernel on x (``silu(x)`` after rewriting): autograd already saves only x and runs
    one fused backward kernel, which a generated function cannot beat."""
    if not (isinstance(lowered, Call) and lowered.args == (Input(),)):
        return False
    template = getattr(lookup(lowered.name), "torch", None)
    return isinstance(template, str) and template.count("(") == 1 and template.count("{0}") == 1


def _fusable(expr: Expr) -> bool:
    """Pointwise, deterministic, no learned tensors beyond scalars, a function of x, and within
    the fused path's bounds (``FUSE_DEPTH``, ``FUSE_NODES``, ``FUSE_WIDTH``)."""
    if expr.depth > FUSE_DEPTH:
        return False
    nodes = list(walk(expr))
    if len(nodes) > FUSE_NODES or any(isinstance(n, Call) and len(n.args) > FUSE_WIDTH for n in nodes):
        return False
    calls = [lookup(node.name) for node in nodes if isinstance(node, Call)]
    if any(p is None or not p.pointwise or p.stochastic or p.stateful for p in calls):
        return False
    return uses_input(expr)
