"""The sympy symbols actlang expressions lower to: the input ``x`` and learned scalars."""

from __future__ import annotations

import functools

import sympy as sp

X = sp.Symbol("x", real=True)
"""The input ``x``: a real symbol."""

W = sp.Dummy("w", real=True)
"""The argument of generated function bodies (never appears in results)."""


@functools.cache
def param_symbol(name: str) -> sp.Symbol:
    """A learned scalar ``beta`` is the real symbol ``beta``."""
    return sp.Symbol(name, real=True)


@functools.cache
def learned_symbol(site: str, name: str) -> sp.Symbol:
    """A learned tensor of a primitive site, e.g. PReLU's ``prelu_0.a``."""
    return sp.Symbol(f"{site}.{name}", real=True)
