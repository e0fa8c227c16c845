"""Whether a graph is being captured or a function transform runs, or a tensor has no values to
read, as the CPAB modules need to know: they then run plain torch ops (see :func:`capturing`,
:func:`valueless`)."""

from __future__ import annotations

import torch

from actlang.kernels import holds_values


def capturing() -> bool:
    """True while a graph is captured (torch.compile, torch.export, torch.jit.trace) or a
    function transform runs (torch.func.vmap, grad, jacrev, jvp): the module then runs plain torch
    ops, without data-dependent early exits (they would bake one input's path into the graph or
    read a batched tensor's values), the numpy table or the hand-written autograd functions."""
    if torch.jit.is_scripting():
        return False
    return compiling()


@torch.jit.unused
def compiling() -> bool:
    """True under torch.compile or torch.jit.trace, or inside a torch.func transform."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing() or transformed()


@torch.jit.unused
def compiling_only() -> bool:
    """True under torch.compile, not torch.export (whose files must run without actlang's custom
    ops) nor a function transform."""
    return torch.compiler.is_compiling() and not torch.compiler.is_exporting() and not transformed()


@torch.jit.unused
def transformed() -> bool:
    """True inside a torch.func transform (functorch keeps a per-thread interpreter stack)."""
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return bool(active()) if active is not None else False


def valueless(t: torch.Tensor) -> bool:
    """True for a tensor without values to read (the meta device, ``FakeTensorMode``'s fake
    tensors): shape-only runs take the plain torch ops, without numpy, kernels or a
    data-dependent early exit (:func:`actlang.kernels.holds_values`)."""
    if torch.jit.is_scripting():
        return False
    return _valueless(t)


@torch.jit.unused
def _valueless(t: torch.Tensor) -> bool:
    return not holds_values(t)
