"""Fused kernels built ahead of time with AOTInductor and kept on disk, one file per kernel.

A kernel is one pure torch function (a generated one of :mod:`actlang.compiler.inductor_code`,
or DiTAC's lookup) for one dtype, device kind and layout. :func:`build` exports it with
``torch.export`` (the sizes of x dynamic, so one file serves every shape) and packages it with
``torch._inductor.aoti_compile_and_package``; :func:`load` maps the package back in a few
milliseconds through the AOTInductor runtime, without importing dynamo or inductor, which is what
lets a second process start fused in well under a second.

Files live in ``$ACTLANG_CACHE_DIR`` (default ``$XDG_CACHE_HOME/actlang`` or
``~/.cache/actlang``), under ``kernels/``, named by a hash of everything the compiled code
depends on: the function's text, dtype, layout, device kind and capability (the vector ISA and
the feature flags of the CPU, the compute capability on CUDA), torch's version and this module's
format number. A stale file therefore cannot match. Writes go to a temporary name and are
renamed into place, so a killed build leaves nothing half-written behind. Beside them, under ``plans/``, each fusable
program's plan (:mod:`actlang.kernel_plans`). Builder processes (:mod:`actlang.kernel_builder`) run
:func:`build`; a build that fails leaves a ``.failed`` file with the error, which :func:`failure`
reports.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

# Bump when the files' contents or naming change (2: parallel loops; 3: no index asserts; 4: run-time threads).
FORMAT = 4
EXAMPLE_SIZE = 1 << 20  # values of x in the example a kernel is exported with
_loaded: dict[str, Any] = {}  # key -> runner, for this process
_failures: dict[str, str] = {}  # key -> why it cannot be built, where no .failed file could be written


@dataclass(frozen=True)
class Kernel:
    """What one compiled kernel depends on.

    ``recipe``: how any process makes the pure function, ``("package.module:maker", args)``:
    ``maker(*args)`` returns it (``args`` JSON data). ``shapes``: each argument's shape, None for
    those shaped like x (dynamic sizes; x is 1-D, or ``(outer, channels, inner)`` when ``rank`` is
    3). ``origin``: a hash of the maker's module source, so that edited code cannot match.
    ``arg_dtypes``: each argument's dtype where one differs from x's (DiTAC's packed int64 tables);
    empty where all are x's.
    """

    name: str
    recipe: tuple[str, tuple[Any, ...]]
    dtype: str
    device: str  # "cpu" | "cuda"
    rank: int
    channels: int
    shapes: tuple[tuple[int, ...] | None, ...]
    origin: str = ""
    arg_dtypes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Hash of everything the compiled file depends on (``arg_dtypes`` only where given, so
        that the files of kernels without them keep their names)."""
        fields = {name: value for name, value in asdict(self).items() if name != "arg_dtypes" or value}
        identity = {**fields, "torch": torch.__version__, "format": FORMAT, "target": _target(self.device)}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]

    def function(self) -> Any:
        """The pure function, made from the recipe."""
        return make(self.recipe)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> Kernel:
        fields = json.loads(text)
        entry, args = fields["recipe"]
        shapes = tuple(None if s is None else tuple(s) for s in fields["shapes"])
        extra = {"arg_dtypes": tuple(fields.get("arg_dtypes", ()))}
        return Kernel(**{**fields, "recipe": (entry, tuple(args)), "shapes": shapes, **extra})


def make(recipe: tuple[str, tuple[Any, ...]]) -> Any:
    """The function a recipe ``("package.module:maker", args)`` makes: ``maker(*args)``."""
    entry, args = recipe
    module, name = entry.split(":")
    return getattr(importlib.import_module(module), name)(*args)


def describe(name: str, recipe: tuple[str, tuple[Any, ...]], args: tuple[torch.Tensor, ...], like: int) -> Kernel:
    """The :class:`Kernel` ``name`` made by ``recipe`` for ``args``: the first ``like`` of them
    shaped like x (the first), the others of fixed shape."""
    x = args[0]
    shapes = tuple(None if i < like else tuple(a.shape) for i, a in enumerate(args))
    dtype = str(x.dtype).removeprefix("torch.")
    channels = x.shape[1] if x.dim() == 3 else 0
    dtypes = tuple(str(a.dtype).removeprefix("torch.") for a in args)
    given = dtypes if any(d != dtype for d in dtypes) else ()
    return Kernel(name, recipe, dtype, x.device.type, x.dim(), channels, shapes, _origin(recipe[0]), given)


def cache_dir() -> Path:
    """``$ACTLANG_CACHE_DIR/kernels`` (default ``$XDG_CACHE_HOME/actlang`` or ``~/.cache/actlang``)."""
    root = os.environ.get("ACTLANG_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "actlang")
    return Path(root) / "kernels"


def path_of(kernel: Kernel) -> Path:
    return cache_dir() / f"{kernel.name}-{kernel.key}.pt2"


def load(kernel: Kernel, device_index: int = -1) -> Any | None:
    """The kernel's runner (``runner.run(list_of_tensors) -> list_of_tensors``), or None when it
    has not been built. A file that does not load (truncated by a full disk, say) is removed."""
    key = kernel.key
    if key in _loaded:
        return _loaded[key]
    path = path_of(kernel)
    if not _exists(path):
        return None
    try:
        runner = torch._C._aoti.AOTIModelPackageLoader(str(path), "model", False, 1, device_index)
    except RuntimeError:
        path.unlink(missing_ok=True)
        return None
    _loaded[key] = runner
    return runner


def _exists(path: Path) -> bool:
    """``path.exists()``, False where the directory cannot be searched (no permission)."""
    try:
        return path.exists()
    except OSError:
        return False


def failure(kernel: Kernel) -> str | None:
    """The error of this kernel's failed build, if one failed: its ``.failed`` file, or one this
    process noted where no file could be written (:func:`note_failure`)."""
    if kernel.key in _failures:
        return _failures[kernel.key]
    try:
        return path_of(kernel).with_suffix(".failed").read_text()
    except OSError:  # none (or an unreadable cache directory)
        return None


def note_failure(kernel: Kernel, error: str) -> None:
    """Remember for this process that ``kernel`` cannot be built (its directory is not writable,
    so no ``.failed`` file can say so)."""
    _failures[kernel.key] = error


def build(kernel: Kernel) -> Path:
    """Export and compile ``kernel`` into its file (seconds to a minute); returns the path."""
    import torch._inductor  # heavy: only builders import it

    function = kernel.function()
    examples, dynamic = _examples(kernel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        exported = torch.export.export(_Function(function), examples, dynamic_shapes=(dynamic,), strict=False)
    target = path_of(kernel)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name in the same directory, then an atomic rename: readers see the whole
    # file or none, and two builders cannot corrupt each other's output.
    _remove_stale_partials(target)
    handle, partial = tempfile.mkstemp(prefix=_partial_prefix(target), suffix=".pt2", dir=target.parent)
    os.close(handle)
    try:
        with warnings.catch_warnings():  # torch's own deprecation notices, not the user's concern
            warnings.simplefilter("ignore", FutureWarning)
            # Indices in these functions are in range by construction (DiTAC's piece index is
            # clamped to its table), so inductor's per-element bounds check only costs time
            # (4–10 % of the lookup kernels). One file serves every process on the machine, so
            # its thread count is the caller's at run time (torch.set_num_threads), not the
            # builder's: inductor otherwise fixes it at build time, either as every loop's team
            # size or as the size of its reductions' per-thread arrays, which a caller with more
            # threads than the builder overran (a crash).
            options = {
                "assert_indirect_indexing": False,
                "cpp.enable_floating_point_contract_flag": _contract(kernel),
                "cpp.dynamic_threads": True,
            }
            with torch._inductor.config.patch(options):
                torch._inductor.aoti_compile_and_package(exported, package_path=partial)
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)
    return target


def _contract(kernel: Kernel) -> str:
    """gcc's ``-ffp-contract`` for the kernel's CPU code: its maker module's
    ``FLOATING_POINT_CONTRACT`` (part of the source its file name hashes), else ``"off"``, inductor's
    default: contraction changes rounding, which only a module that checked its math may accept."""
    module = importlib.import_module(kernel.recipe[0].split(":")[0])
    return str(getattr(module, "FLOATING_POINT_CONTRACT", "off"))


def _partial_prefix(target: Path) -> str:
    """The name a build's partial file of ``target`` starts with (``.<stem>-<random>.pt2``)."""
    return f".{target.stem}-"


def target_of_partial(path: Path) -> Path | None:
    """The kernel file that ``path`` becomes if it is a build's partial file, else None."""
    if not (path.name.startswith(".") and path.suffix == ".pt2"):
        return None
    return path.parent / f"{path.name[1:].rsplit('-', 1)[0]}.pt2"


def _remove_stale_partials(target: Path) -> None:
    """Remove what builds of ``target`` killed mid-way left (an hour old: no live build's)."""
    for partial in target.parent.glob(f"{_partial_prefix(target)}*.pt2"):
        try:
            if time.time() - partial.stat().st_mtime > 3600:
                partial.unlink()
        except FileNotFoundError:
            pass


class _Function(torch.nn.Module):
    """A generated function as the module torch.export takes."""

    def __init__(self, function: Any) -> None:
        super().__init__()
        self.function = function

    def forward(self, *args: torch.Tensor) -> Any:
        return self.function(*args)


def _examples(kernel: Kernel) -> tuple[tuple[torch.Tensor, ...], tuple[Any, ...]]:
    """Example arguments and their dynamic sizes: x-like arguments share the dynamic sizes of x;
    the channels and the other arguments' shapes are static."""
    from torch.export import Dim

    dtype = getattr(torch, kernel.dtype)
    # Large examples (about a million values): inductor takes the example's sizes as hints when it
    # decides whether a loop is worth running on several threads; with a small one it writes a
    # serial loop, which then runs serially at every size.
    if kernel.rank == 3:
        inner = max(2, EXAMPLE_SIZE // (256 * max(kernel.channels, 1)))
        shape, sizes = (256, kernel.channels, inner), {0: Dim("outer", min=1), 2: Dim("inner", min=1)}
    else:
        shape, sizes = (EXAMPLE_SIZE,), {0: Dim("n", min=1)}
    examples, dynamic = [], []
    dtypes = [getattr(torch, d) for d in kernel.arg_dtypes] or [dtype] * len(kernel.shapes)
    for fixed, kind in zip(kernel.shapes, dtypes, strict=True):
        size = shape if fixed is None else fixed
        if kind.is_floating_point:
            examples.append(torch.randn(size, dtype=kind, device=kernel.device))
        else:
            examples.append(torch.randint(-(1 << 30), 1 << 30, size, dtype=kind, device=kernel.device))
        dynamic.append(sizes if fixed is None else None)
    return tuple(examples), tuple(dynamic)


_origins: dict[str, str] = {}


def _origin(entry: str) -> str:
    """A hash of the source of the module that makes a kernel's function, and of the modules it
    lists in ``KERNEL_DEPENDENCIES`` (the code its function calls elsewhere), read once."""
    module = entry.split(":")[0]
    if module not in _origins:
        found = _source_hash(module)
        dependencies = getattr(importlib.import_module(module), "KERNEL_DEPENDENCIES", ())
        if dependencies:  # without any, the hash stays the module's alone (the files keep their names)
            found = hashlib.sha256("".join([found, *map(_source_hash, dependencies)]).encode()).hexdigest()[:16]
        _origins[module] = found
    return _origins[module]


def _source_hash(module: str) -> str:
    spec = importlib.util.find_spec(module)
    path = spec.origin if spec is not None else None
    if not path or not os.path.exists(path):
        return ""
    with open(path, "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()[:16]


def _target(device: str) -> str:
    """What the compiled code is specialised to: the GPU's capability, or the CPU's vector ISA and
    features (:func:`_cpu_features`)."""
    if device == "cuda":
        major, minor = torch.cuda.get_device_capability()
        return f"sm_{major}{minor}"
    return f"{torch.backends.cpu.get_cpu_capability()}-{_cpu_features()}"


@functools.cache
def _cpu_features() -> str:
    """A hash of this CPU's feature flags (Linux's ``/proc/cpuinfo``; elsewhere the processor's
    name). Inductor compiles with ``-march=native``, so a file may hold instructions that another
    CPU of the same vector ISA lacks (one AVX-512 CPU has AVX512-FP16, another not): machines that
    share a cache directory (a home directory on a cluster's network file system) must not load
    each other's files."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith(("flags", "Features")):  # x86, ARM
                    flags = " ".join(sorted(line.partition(":")[2].split()))
                    return hashlib.sha256(flags.encode()).hexdigest()[:12]
    except OSError:
        pass
    return platform.processor() or platform.machine()
