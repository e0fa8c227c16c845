"""What a compiled module does when it runs, observed instead of read from its generated code."""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode


class _Recorder(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def torch_calls(module: Any, x: torch.Tensor) -> list[str]:
    """Names of the torch functions one forward of ``module`` calls (``sigmoid``, ``add``, ...),
    in order. The module runs once first, so one-off set-up (the fused function's build) is not
    counted."""
    module(x)
    with _Recorder() as recorder:
        module(x)
    return recorder.calls


def submodule_calls(module: torch.nn.Module, x: torch.Tensor) -> list[str]:
    """Names of the submodules one forward of ``module`` calls, in order."""
    called: list[str] = []
    handles = [
        sub.register_forward_hook(lambda *_, name=name: called.append(name))
        for name, sub in module.named_children()
    ]
    try:
        module(x)
    finally:
        for handle in handles:
            handle.remove()
    return called
