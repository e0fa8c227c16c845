"""TorchInductor helpers shared by the compiler's fused expressions and DiTAC's lookup.

:func:`available` says whether a device has a compiler for inductor (``fuse="auto"`` warns once
per device kind and runs the unfused path where it has none; ``fuse=True`` is an error);
:data:`MIN_NUMEL` is the size below which ``auto`` stays unfused; :func:`flat` is the layout
kernels take. A :class:`Kernel` (DiTAC's lookup) is a pure torch function compiled in-process with
``torch.compile(fullgraph=True, dynamic=True)`` the first time it runs for a dtype, device kind
and argument ranks, with a log record (``actlang.compiler``, INFO) before and after; one that fails
to compile runs as the same function in eager PyTorch, with one :class:`FusionWarning` (same
values, only slower). Inductor keeps its builds on disk (``TORCHINDUCTOR_CACHE_DIR``): a later
process skips the C++ build. (The compiler's expression kernels are AOTInductor files instead:
:mod:`actlang.kernel_cache`.)
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import shutil
import time
import types
import warnings
from collections.abc import Callable
from typing import Any

import torch

from actlang.errors import ActlangWarning, UnsupportedError

log = logging.getLogger("actlang.compiler")

MIN_NUMEL = 1 << 16  # below this, ``auto`` keeps the unfused path (a call's fixed cost does not pay)
BACKEND: Any = "inductor"  # torch.compile's backend (tests run the same graphs with "eager")
_warned: set[str] = set()
_NAMES = itertools.count()


class FusionWarning(ActlangWarning):
    """``fuse="auto"`` found no compiler for inductor on this device and runs the unfused path."""


def cpp_compiler() -> str | None:
    """The C++ compiler inductor would use on the CPU (``$CXX``, else g++/clang++/c++), or None."""
    chosen = os.environ.get("CXX")
    if chosen:
        return shutil.which(chosen)
    return shutil.which("g++") or shutil.which("clang++") or shutil.which("c++")


def has_triton() -> bool:
    """Whether Triton (inductor's GPU code generator) is importable for CUDA devices."""
    try:
        from torch.utils._triton import has_triton as found
    except ImportError:
        return False
    return bool(found())


def backend_available(device: torch.device) -> bool:
    """Whether inductor can generate and build kernels for ``device``."""
    if device.type == "cpu":
        return cpp_compiler() is not None
    if device.type == "cuda":
        return has_triton()
    return False


def available(device: torch.device, fusion: str) -> bool:
    """Whether to run inductor kernels on ``device`` for the mode ``fusion`` (``"auto"``/``"on"``).

    Without a compiler for the device, ``"on"`` raises :class:`UnsupportedError` and ``"auto"``
    warns once per device kind (:class:`FusionWarning`) and returns False.
    """
    if backend_available(device):
        return True
    what = "Triton" if device.type == "cuda" else "a C++ compiler"
    if fusion == "on":
        raise UnsupportedError(f"fuse=True needs {what} for TorchInductor on {device.type}; none was found")
    if device.type not in _warned:
        _warned.add(device.type)
        warnings.warn(
            f"actlang: no fused kernels on {device.type} (TorchInductor needs {what}); using the unfused path",
            FusionWarning, stacklevel=4,
        )  # fmt: skip
    return False


def flat(x: torch.Tensor, channel_dim: int | None) -> torch.Tensor:
    """x as kernels take it: 1-D, or ``(outer, C, inner)`` with the channels along ``channel_dim``.
    Detached: not a view (dynamo would guard on the viewed tensor's shape and recompile per rank)."""
    if channel_dim is None:
        return x.reshape(-1).detach()
    dim = channel_dim % x.dim()
    return x.reshape(math.prod(x.shape[:dim]), x.shape[dim], math.prod(x.shape[dim + 1 :])).detach()


def _fresh(function: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of ``function`` with a code object of its own: dynamo caches compiled graphs per code
    object, a few entries each, so every compiled variant of a kernel gets its own."""
    code = function.__code__.replace(co_name=f"{function.__name__}_{next(_NAMES)}")
    closure, defaults = function.__closure__, function.__defaults__
    return types.FunctionType(code, function.__globals__, code.co_name, defaults, closure)


class Kernel:
    """``function`` (pure torch ops), compiled by inductor on first use per dtype, device kind and
    argument ranks (each such variant a graph of its own: dynamo then never recompiles one past
    its cache limit, only for new sizes, which ``dynamic=True`` makes symbolic).

    ``label`` names it in log records and warnings (``"the value kernel of x*sigmoid(x)"``).
    """

    def __init__(self, function: Callable[..., Any], label: str) -> None:
        self.function = function
        self.label = label
        self.compiled: dict[tuple, Callable[..., Any]] = {}  # (dtype, device kind, ranks, backend) -> kernel

    def __call__(self, *args: torch.Tensor) -> Any:
        key = (args[0].dtype, args[0].device.type, tuple(a.dim() for a in args), BACKEND)
        kernel = self.compiled.get(key)
        with torch.no_grad():
            if kernel is not None:
                return kernel(*args)
            log.info("compiling %s (%s, %s) with TorchInductor", self.label, *key[:2])
            start = time.perf_counter()
            kernel = torch.compile(_fresh(self.function), backend=key[3], fullgraph=True, dynamic=True)
            try:
                result = kernel(*args)
            except Exception as error:  # any compiler failure: run the same code unfused
                first = str(error).splitlines()[0] if str(error) else ""
                warnings.warn(
                    f"actlang: TorchInductor could not compile {self.label} ({type(error).__name__}: {first}); "
                    "running it unfused",
                    FusionWarning, stacklevel=3,
                )  # fmt: skip
                kernel = self.function
                result = kernel(*args)
            log.info("compiled %s in %.1f s", self.label, time.perf_counter() - start)
            self.compiled[key] = kernel
            return result
