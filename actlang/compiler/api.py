"""``actlang.compile``: expression (text or AST) -> a fresh :class:`ActivationModule`."""

from __future__ import annotations

import functools

from actlang.ast import Expr
from actlang.compiler.codegen import FLOAT32_MAX
from actlang.compiler.module import ActivationModule
from actlang.compiler.program import program
from actlang.errors import ActlangError, LimitError


def compile(  # noqa: A001 - the SPEC's name
    e: Expr | str,
    *,
    channels: int | None = None,
    channel_dim: int = 1,
    memory_efficient: bool = True,
) -> ActivationModule:
    """Compile ``e`` into an ``nn.Module`` with its own learned parameters.

    ``channels=C`` makes every learned parameter a vector of C values broadcast along
    ``channel_dim``; ``memory_efficient=False`` trains through plain autograd instead of the
    fused function. Compiling the same text again reuses the generated code (the cache is keyed
    by canonical text), never the parameters.
    """
    if not isinstance(e, str | Expr):
        raise ActlangError(f"compile takes an activation as text or an expression, got {type(e).__name__}")
    if not isinstance(memory_efficient, bool):
        raise ActlangError(f"memory_efficient must be true or false, got {memory_efficient!r}")
    if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
        raise ActlangError(f"channels must be a positive integer, got {channels!r}")
    if isinstance(channel_dim, bool) or not isinstance(channel_dim, int):
        raise ActlangError(f"channel_dim must be an integer, got {channel_dim!r}")
    text = _canonical(e) if isinstance(e, str) else str(e)
    built = program(text, channels is not None, channel_dim)
    for name, init in built.params.items():  # parameters are created in float32
        if abs(init) > FLOAT32_MAX:
            raise LimitError(
                f"the initial value {init:g} of '{name}' is beyond float32's range (±{FLOAT32_MAX:.4g}), "
                "in which parameters are created"
            )
    return built.cls(channels=channels, channel_dim=channel_dim, memory_efficient=memory_efficient)


@functools.lru_cache(maxsize=4096)
def _canonical(text: str) -> str:
    from actlang.parser import parse

    return str(parse(text))
