"""``actlang.compile``: expression (text or AST) -> a fresh :class:`ActivationModule`."""

from __future__ import annotations

import functools

from actlang.ast import Call, Constant, Expr, Input, Num, Param
from actlang.compiler.module import ActivationModule
from actlang.compiler.program import program
from actlang.constant import require_input
from actlang.errors import ActlangError
from actlang.parser import parse


def compile(  # noqa: A001 - the SPEC's name
    e: Expr | str,
    *,
    channels: int | None = None,
    channel_dim: int = 1,
    memory_efficient: bool = True,
    dialect: str | None = None,
    allow_constant: bool = False,
) -> ActivationModule:
    """Compile ``e`` into an ``nn.Module`` with its own learned parameters.

    ``channels=C`` makes every learned parameter a vector of C values broadcast along
    ``channel_dim``; ``memory_efficient=False`` trains through plain autograd instead of the
    fused function. Compiling the same text again reuses the generated code (the cache is keyed
    by canonical text), never the parameters. ``dialect`` reads library names as that library
    does (see :func:`actlang.parse`). An expression that never uses ``x`` (``relu(z)``) is a
    ``ConstantExpressionError`` unless ``allow_constant=True``.
    """
    if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
        raise ActlangError(f"channels must be a positive integer, got {channels!r}")
    if isinstance(channel_dim, bool) or not isinstance(channel_dim, int):
        raise ActlangError(f"channel_dim must be an integer, got {channel_dim!r}")
    if isinstance(e, str):
        expression = parse(e, dialect=dialect)
    elif isinstance(e, Num | Input | Constant | Param | Call):
        expression = e
    else:
        raise ActlangError(f"expected an activation (text or expression), got {type(e).__name__}")
    require_input(expression, allow_constant=allow_constant)
    text = _canonical(e, dialect) if isinstance(e, str) else str(e)
    built = program(text, channels is not None, channel_dim)
    return built.cls(channels=channels, channel_dim=channel_dim, memory_efficient=memory_efficient)


@functools.lru_cache(maxsize=4096)
def _canonical(text: str, dialect: str | None) -> str:
    return str(parse(text, dialect=dialect))
