"""``actlang.compile``: expression (text or AST) -> a fresh :class:`ActivationModule`."""

from __future__ import annotations

import warnings

from actlang.ast import Call, Constant, Expr, Input, Num, Param
from actlang.compiler.codegen import FLOAT32_MAX
from actlang.compiler.module import ActivationModule
from actlang.compiler.program import program
from actlang.constant import require_input
from actlang.errors import ActlangError, LimitError
from actlang.parser import parse


def compile(  # noqa: A001 - the public name
    e: Expr | str,
    *,
    channels: int | None = None,
    channel_dim: int = 1,
    memory_efficient: bool = True,
    dialect: str | None = None,
    allow_constant: bool | None = None,
) -> ActivationModule:
    """Compile ``e`` into an ``nn.Module`` with its own learned parameters.

    ``channels=C`` makes every learned parameter a vector of C values broadcast along
    ``channel_dim``; ``memory_efficient=False`` trains through plain autograd instead of the
    fused function. Compiling the same expression again reuses the generated code (text is parsed
    once, here, and the cache is keyed by the tree: every spelling of one tree shares it), never
    the parameters. ``dialect`` reads library names as that library does (see
    :func:`actlang.parse`). An expression that never uses ``x`` (``relu(z)``: z is a
    learned scalar) gives a ``ConstantExpressionWarning``; ``allow_constant=False`` makes it a
    ``ConstantExpressionError``, ``True`` accepts it silently.
    """
    if not isinstance(e, str | Expr):
        raise ActlangError(f"compile takes an activation as text or an expression, got {type(e).__name__}")
    if not isinstance(memory_efficient, bool):
        raise ActlangError(f"memory_efficient must be true or false, got {memory_efficient!r}")
    if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
        raise ActlangError(f"channels must be a positive integer, got {channels!r}")
    if isinstance(channel_dim, bool) or not isinstance(channel_dim, int):
        raise ActlangError(f"channel_dim must be an integer, got {channel_dim!r}")
    if isinstance(e, str):
        with warnings.catch_warnings(record=True) as caught:  # re-issued below at the caller's line
            warnings.simplefilter("always")
            expression = parse(e, dialect=dialect)
        for warning in caught:
            warnings.warn(warning.message, warning.category, stacklevel=2)
    elif isinstance(e, Num | Input | Constant | Param | Call):
        expression = e
    else:
        raise ActlangError(f"expected an activation (text or expression), got {type(e).__name__}")
    require_input(expression, allow_constant=bool(allow_constant), warn=allow_constant is None)
    built = program(expression, channels is not None, channel_dim)
    for name, init in built.params.items():  # parameters are created in float32
        if abs(init) > FLOAT32_MAX:
            raise LimitError(
                f"the initial value {init:g} of '{name}' is beyond float32's range (±{FLOAT32_MAX:.4g}), "
                "in which parameters are created"
            )
    return built.cls(channels=channels, channel_dim=channel_dim, memory_efficient=memory_efficient)

