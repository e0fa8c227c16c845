"""TorchInductor helpers shared by the compiler's fused expressions and DiTAC's lookup.

:func:`available` says whether a device has a compiler for inductor (``fuse="auto"`` warns once
per device kind and runs the unfused path where it has none; ``fuse=True`` is an error);
:data:`MIN_NUMEL` is the size below which ``auto`` stays unfused; :func:`flat` is the layout
kernels take. A :class:`Kernel` (DiTAC's lookup) is a pure torch function run as an AOTInductor kernel kept on
disk by :mod:`actlang.kernel_cache`, as the compiler's expression kernels are: built once per
machine (now, or in the background while the function runs in eager PyTorch), with a log record
(``actlang.compiler``, INFO); one that fails to build runs as the same function in eager PyTorch,
with one :class:`FusionWarning` (same values, only slower).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import shutil
import time
import warnings
from typing import Any

import torch

from actlang import kernel_builder, kernel_cache
from actlang.errors import ActlangWarning, UnsupportedError

log = logging.getLogger("actlang.compiler")

MIN_NUMEL = 1 << 16  # below this, ``auto`` keeps the unfused path (a call's fixed cost does not pay)
BACKEND = "aoti"  # "eager": tests run the kernels' functions uncompiled
_warned: set[str] = set()


class FusionWarning(ActlangWarning):
    """``fuse="auto"`` found no compiler for inductor on this device and runs the unfused path."""


def cpp_compiler() -> str | None:
    """The C++ compiler inductor would use on the CPU (``$CXX``, else g++/clang++/c++), or None."""
    return _find_compiler(os.environ.get("CXX"), os.environ.get("PATH", os.defpath))


@functools.lru_cache(maxsize=8)
def _find_compiler(chosen: str | None, path: str) -> str | None:
    """:func:`cpp_compiler` for one ``$CXX`` and ``$PATH``: a search of PATH took half of a small
    fused call's time (every call asks whether a compiler exists)."""
    if chosen:
        return shutil.which(chosen, path=path)
    return shutil.which("g++", path=path) or shutil.which("clang++", path=path) or shutil.which("c++", path=path)


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


def holds_values(x: torch.Tensor) -> bool:
    """Whether a compiled kernel can read x's values: x is not on the meta device, not a tensor
    subclass that intercepts dispatch (the fake tensors of ``FakeTensorMode``, which shape-only
    tools and tracers pass), and no fake mode is active. Elsewhere the unfused path runs (shapes
    and dtypes only, as for any torch op): a kernel file given a fake tensor read memory that is
    not there and crashed the process."""
    if x.is_meta:
        return False
    # Plain tensors skip the dispatch-key lookup: every module call asks (0.3 against 1.2 µs).
    if type(x) is not torch.Tensor and torch._C._dispatch_keys(x).has(torch._C.DispatchKey.Python):
        return False
    return torch._C._get_dispatch_mode(torch._C._TorchDispatchModeKey.FAKE) is None


def memory_order(x: torch.Tensor) -> tuple[int, ...] | None:
    """x's dimensions from the outermost stride to the innermost, where x is dense but not
    row-major (channels-last, a transposed view); None where it is row-major (or not dense).

    Pointwise kernels then read and write the values where they lie: a reshape of a
    channels-last tensor to 1-D copies it, and a row-major result makes the next convolution
    copy it back (a ConvNeXt training step with DiTAC spent 0.3 s of 2 s in such copies)."""
    if x.dim() < 2 or x.is_contiguous():
        return None
    order = tuple(sorted(range(x.dim()), key=lambda d: -x.stride(d)))  # stable: ties keep their order
    return order if x.permute(order).is_contiguous() else None


def flat(x: torch.Tensor, channel_dim: int | None, order: tuple[int, ...] | None = None) -> torch.Tensor:
    """x as kernels take it: 1-D, or ``(outer, C, inner)`` with the channels along ``channel_dim``;
    with ``order`` (:func:`memory_order` of the call's input), in that order of dimensions.
    Detached: not a view (dynamo would guard on the viewed tensor's shape and recompile per rank)."""
    if order is not None:
        channel_dim = None if channel_dim is None else order.index(channel_dim % x.dim())
        x = x.permute(order)
    if channel_dim is None:
        return x.reshape(-1).detach()
    dim = channel_dim % x.dim()
    return x.reshape(math.prod(x.shape[:dim]), x.shape[dim], math.prod(x.shape[dim + 1 :])).detach()


def unflat(y: torch.Tensor, shape: torch.Size, order: tuple[int, ...] | None) -> torch.Tensor:
    """A kernel's result (laid out as :func:`flat` gave its input) in ``shape``, with the
    input's strides where ``order`` is its :func:`memory_order`."""
    if order is None:
        return y.reshape(shape)
    inverse = sorted(range(len(order)), key=order.__getitem__)
    return y.reshape([shape[d] for d in order]).permute(inverse)


class Kernel:
    """A pure torch function run as an AOTInductor kernel (:mod:`actlang.kernel_cache`): built once
    per dtype, device kind and argument shapes on a machine, loaded from disk in milliseconds after
    that, in this process or the next.

    ``recipe`` makes the function in any process (``("package.module:maker", args)``, ``args`` JSON
    data), so a builder process can build it; ``like``: how many leading arguments are shaped like x
    (dynamic sizes), the others having fixed shapes; ``single``: the function returns one tensor,
    not a tuple. ``label`` names it in log records and warnings. A call with ``wait`` builds a
    missing kernel now; without, it queues a background build and runs the function in eager
    PyTorch meanwhile (same values), as it does where a build failed (one :class:`FusionWarning`).
    """

    def __init__(self, recipe: tuple[str, tuple[Any, ...]], name: str, label: str, like: int, single: bool) -> None:
        self.recipe, self.name, self.label, self.like, self.single = recipe, name, label, like, single
        self.function = kernel_cache.make(recipe)
        self.runners: dict[tuple, Any] = {}  # key -> loaded kernel (or the function, where a build failed)
        self.pending: set[tuple] = set()  # keys whose kernels are being built in the background
        self.failed: set[tuple] = set()  # keys whose background build failed (warned once)
        self.logged: set[tuple] = set()  # keys already logged while tests run the functions uncompiled
        self.absent: set[tuple] = set()  # keys :meth:`built` found neither loaded nor on disk

    def key(self, args: tuple[torch.Tensor, ...]) -> tuple:
        """(dtype, device kind, x's rank, the fixed shapes): what one kernel file serves."""
        return (args[0].dtype, args[0].device.type, args[0].dim(), *(tuple(a.shape) for a in args[self.like :]))

    def __call__(self, *args: torch.Tensor, wait: bool = True) -> Any:
        runner = self.runners.get(self.key(args))
        if runner is None and prepare([(self, args)], wait):
            runner = self.runners.get(self.key(args))
        if runner is None or callable(runner):
            with torch.no_grad():  # the function in eager torch: no graph
                return (runner or self.function)(*args)
        # Exported kernels assume contiguous arguments (autograd's g may be an expanded view); they
        # record no graph, so no grad-mode switch (a fifth of a small call).
        return self.run_loaded(runner, *args)

    def loaded(self, args: tuple[torch.Tensor, ...]) -> Any:
        """The kernel loaded for ``args`` (call it with :meth:`run_loaded`), or None: not loaded in
        this process yet, or running as its eager function (tests, a failed build)."""
        runner = self.runners.get(self.key(args))
        return None if runner is None or callable(runner) else runner

    def run_loaded(self, runner: Any, *args: torch.Tensor) -> Any:
        """``runner`` (from :meth:`loaded`) on ``args``: a call without :meth:`__call__`'s lookups,
        for callers that checked the arguments' key once (a module's repeated inference calls)."""
        out = runner.run([a.contiguous() for a in args])
        return out[0] if self.single else tuple(out)

    def built(self, args: tuple[torch.Tensor, ...]) -> bool:
        """Whether the kernel for ``args`` is loaded or on disk (loaded now), without building it."""
        key = self.key(args)
        if key not in self.runners and key not in self.absent and BACKEND != "eager":
            self.from_disk(key, args)
            if key not in self.runners:
                self.absent.add(key)  # looked once: a build in this process fills ``runners``
        return key in self.runners and not callable(self.runners[key])

    def from_disk(self, key: tuple, args: tuple[torch.Tensor, ...]) -> kernel_cache.Kernel:
        """Load the kernel file for ``args`` into ``runners[key]`` if it exists; returns its
        description (what a build of it needs)."""
        spec = kernel_cache.describe(self.name, self.recipe, args, self.like)
        runner = kernel_cache.load(spec, device_index(args[0]))
        if runner is not None:
            self.runners[key] = runner
        return spec

    def log_compiling(self, key: tuple, how: str = "") -> None:
        log.info("compiling %s (%s, %s) with TorchInductor%s", self.label, key[0], key[1], how)


def prepare(calls: list[tuple[Kernel, tuple[torch.Tensor, ...]]], wait: bool) -> bool:
    """Whether every kernel can run on its arguments now. Missing kernels are loaded from disk, or
    built: now, side by side (``wait``, logged), or in the background, and then False (the caller
    runs unfused meanwhile); False also where a background build failed (warned once)."""
    missing = []
    for kernel, args in calls:
        key = kernel.key(args)
        if key in kernel.runners:
            continue
        if BACKEND == "eager":  # tests: the functions uncompiled (nothing kept: a later call may compile)
            if key not in kernel.logged:
                kernel.logged.add(key)
                kernel.log_compiling(key)
            continue
        if key in kernel.failed and not wait:
            return False  # fuse=True (wait) tries again: the user asked for the kernel
        spec = kernel.from_disk(key, args)
        if key in kernel.runners:
            continue
        if wait:
            missing.append((kernel, key, spec, device_index(args[0])))
        else:
            _build_later(kernel, key, spec)
            return False
    if missing:
        _build_now(missing)
    return True


def device_index(x: torch.Tensor) -> int:
    """The AOTInductor runtime's device index: -1 on the CPU."""
    if x.device.type == "cpu":
        return -1
    return x.device.index if x.device.index is not None else torch.cuda.current_device()


def _build_now(missing: list[tuple[Kernel, tuple, Any, int]]) -> None:
    """Build kernels side by side and wait (``fuse=True``), each loaded for its own device (a
    DiTAC table's flow runs on the CPU whatever the input's device). One that fails to build runs
    as its function in eager PyTorch from then on (one :class:`FusionWarning`): same values, slower."""
    for kernel, key, _, _ in missing:
        kernel.log_compiling(key)
    start = time.perf_counter()
    errors = kernel_builder.build_many([spec for _, _, spec, _ in missing])
    took = time.perf_counter() - start
    for (kernel, key, spec, index), error in zip(missing, errors, strict=True):
        runner = kernel_cache.load(spec, index) if error is None else None
        if runner is None:
            _warn(kernel.label, error or "no file")
            runner = kernel.function
        else:
            log.info("compiled %s in %.1f s", kernel.label, took)
        kernel.runners[key] = runner


def _build_later(kernel: Kernel, key: tuple, spec: Any) -> None:
    """Request a background build of ``spec`` (logged once), or warn once where one failed."""
    failed = kernel_cache.failure(spec)
    if failed is not None:
        kernel.failed.add(key)
        _warn(kernel.label, failed)
    elif key not in kernel.pending:
        kernel.pending.add(key)
        kernel.log_compiling(key, " in the background; unfused until it is ready")
        kernel_builder.request(spec)


def _warn(label: str, error: str) -> None:
    first = error.splitlines()[0] if error else ""
    message = f"actlang: TorchInductor could not compile {label} ({first}); running it unfused"
    warnings.warn(message, FusionWarning, stacklevel=5)
