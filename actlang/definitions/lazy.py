"""numpy and scipy.special for the definitions, imported on first use rather than at import.

``import actlang`` registers every primitive, and the command line's text paths (``parse``,
``check``, ``list``) never evaluate a reference, so importing numpy and scipy there (most of
``actlang parse``'s start-up time) buys nothing. ``np.abs`` read while a definition is made gives
a function that imports numpy when first called; once the module is imported, attributes are the
module's own, and after the definitions are loaded any attribute access imports the module (so
``np.longdouble`` inside a reference is the real dtype).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


class LazyModule:
    """A stand-in for the module ``name`` that imports it only when something is called."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        module = sys.modules.get(self._name)
        if module is None and not _defining:  # a reference running: the real thing, now
            module = importlib.import_module(self._name)
        if module is not None:
            return getattr(module, attribute)
        return _deferred(self._name, attribute)


_defining = True


def definitions_loaded() -> None:
    """From now on every attribute access imports the module (only definitions are deferred)."""
    global _defining
    _defining = False


def _deferred(name: str, attribute: str) -> Callable[..., Any]:
    resolved: Callable[..., Any] | None = None

    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal resolved
        if resolved is None:
            resolved = getattr(importlib.import_module(name), attribute)
        return resolved(*args, **kwargs)

    call.__name__ = call.__qualname__ = attribute
    call.__doc__ = f"{name}.{attribute}, imported on first call"
    return call


np: Any = LazyModule("numpy")
special: Any = LazyModule("scipy.special")
