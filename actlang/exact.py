"""Exact keys for values that ``==`` conflates: ``0.0 == -0.0`` (and their hashes are equal),
``True == 1 == 1.0``.

A signed zero changes what an activation computes (``1 / hardtanh[min=-0.0](x)`` is −inf below
the kink, ``1 / hardtanh[min=0.0](x)`` is +inf), so a cache or a table of shared subexpressions
keyed by plain floats would hand one function the other's result. :func:`exact` is the key that
tells them apart; :func:`exact_cache` is ``functools.lru_cache`` keyed by it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def exact(value: Any) -> Any:
    """A hashable key equal for two values only when they are the same number of the same type:
    a float by its bits (``float.hex``: ``-0x0.0p+0`` is not ``0x0.0p+0``, every NaN the same),
    a bool or int with its type, tuples and lists item by item; anything else as itself."""
    if isinstance(value, float):
        return (float, value.hex())
    if isinstance(value, bool | int):
        return (type(value), value)
    if isinstance(value, tuple | list):
        return (type(value), tuple(exact(item) for item in value))
    return value


class _Rider:
    """Carries a call's arguments through ``lru_cache`` without taking part in its key."""

    __slots__ = ("args", "kwargs")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args, self.kwargs = args, kwargs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rider)

    def __hash__(self) -> int:
        return 0


def exact_cache(maxsize: int | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """``functools.lru_cache(maxsize)`` whose key is :func:`exact` of the arguments, so a call
    with ``-0.0`` never returns the result computed for ``0.0`` (``cache_info``/``cache_clear``
    as lru_cache's)."""

    def decorate(function: Callable[..., T]) -> Callable[..., T]:
        @functools.lru_cache(maxsize=maxsize)
        def keyed(key: Any, rider: _Rider) -> T:
            return function(*rider.args, **rider.kwargs)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            return keyed(exact((args, tuple(sorted(kwargs.items())))), _Rider(args, kwargs))

        wrapper.cache_info = keyed.cache_info  # type: ignore[attr-defined]
        wrapper.cache_clear = keyed.cache_clear  # type: ignore[attr-defined]
        return wrapper

    return decorate
