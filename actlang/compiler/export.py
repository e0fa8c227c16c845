"""``actlang.export``: write a compiled module to a file that plain PyTorch or onnxruntime loads.

- ``torchscript``: ``torch.jit.script(module).save(path)``; load with ``torch.jit.load``. Any rank.
- ``exported``: ``torch.export.export`` with dynamic sizes, ``torch.export.save``; load with
  ``torch.export.load(path).module()``. Trainable: the file runs with autograd, parameters
  included (the module's plain torch ops, never the fused functions' ``out=`` kernels).
- ``onnx``: the dynamo ONNX exporter (needs ``onnx`` and ``onnxscript``); run with onnxruntime.
  Learned tables (DiTAC's pieces) are constants; when onnxruntime is installed the written file
  is loaded and run once, and a file it cannot run is deleted and refused.

One exported program has one rank: ``exported`` and ``onnx`` files take inputs of the example's
rank (``shape=``, default 4) with every size dynamic except a per-channel module's channel
dimension. The file holds the generated plain forward (no actlang code), in inference mode:
stochastic primitives take their eval form. Before exporting, every primitive's torch template is
checked against what the format can express, so an ONNX export of ``bessel_i0e`` fails with the
op's name and the formats that can hold it, not deep inside the exporter.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import torch

from actlang.ast import Call, walk
from actlang.compiler.module import ActivationModule
from actlang.compiler.onnx_check import check_onnx
from actlang.errors import ActlangError, UnsupportedError
from actlang.registry import lookup

Format = Literal["torchscript", "exported", "onnx"]
FORMATS: tuple[str, ...] = ("torchscript", "exported", "onnx")
# Torch calls a format's converter has no operator for (checked with onnxscript 0.7.2).
UNSUPPORTED_OPS: dict[str, frozenset[str]] = {
    "torchscript": frozenset(),
    "exported": frozenset(),
    "onnx": frozenset(
        {"torch.special.i0e", "torch.special.i1e", "torch.special.i0", "torch.i0", "torch.special.ndtri",
         "torch.erfinv", "torch.special.erfinv"}
    ),
}


def unsupported(module: ActivationModule, format: str) -> list[tuple[str, str]]:
    """(primitive, torch op) pairs of ``module`` that ``format`` cannot express."""
    found: list[tuple[str, str]] = []
    for node in walk(module.program.lowered):
        if not isinstance(node, Call) or (primitive := lookup(node.name)) is None:
            continue
        template = primitive.torch if isinstance(primitive.torch, str) else ""
        found += [(node.name, op) for op in sorted(UNSUPPORTED_OPS[format]) if f"{op}(" in template]
    for sub in module.modules():  # activations compiled inside a site (adact's body)
        if sub is not module and isinstance(sub, ActivationModule):
            found += unsupported(sub, format)
    return list(dict.fromkeys(found))


def export(
    module: ActivationModule,
    path: str | Path,
    format: Format | None = None,
    *,
    shape: Sequence[int] | None = None,
    example: torch.Tensor | None = None,
) -> Path:
    """Write ``module`` to ``path`` in ``format``; returns the path.

    ``format``: ``torchscript``, ``exported`` or ``onnx``; by default from the file name
    (``.onnx``: onnx, ``.pt2``: exported, otherwise torchscript). ``shape``: the example input's
    shape (``exported``, ``onnx``): a file has its rank, every dimension but a per-channel
    module's channel dimension is dynamic (any size, 0 and 1 included). By default
    ``(2, C, 3, 3)`` (C = channels, or 3): rank 4. ``example``: a tensor whose shape and dtype
    are used instead. TorchScript files take any rank.
    """
    if not isinstance(module, ActivationModule):
        raise ActlangError(f"export takes a module from actlang.compile, got {type(module).__name__}")
    path = _writable(path)
    chosen = file_format(path, format)
    if missing := unsupported(module, chosen):
        name, op = missing[0]
        able = [f for f in FORMATS if not unsupported(module, f)]
        raise UnsupportedError(
            f"{chosen} cannot express {name} (it needs {op})",
            hint=f"formats that can: {', '.join(able)}" if able else "no export format can",
        )
    trace = example_input(module, shape, example)
    with _eval_mode(module), _quiet():
        try:
            _WRITERS[chosen](module, path, trace)
        except ActlangError:
            raise
        except Exception as error:  # the exporters raise many types; name the expression, format, op
            raise _failure(module, chosen, error) from error
    return path


def _writable(path: object) -> Path:
    """``path`` as a Path whose folder exists and is writable (the exporters' own errors for a
    bad path are C++ traces such as ``[enforce fail at inline_container.cc]``)."""
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise ActlangError(f"export needs a file path, got {type(path).__name__}")
    path = Path(path)
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK) or path.is_dir():
        why = "it is a folder" if path.is_dir() else "no writable folder there"
        raise ActlangError(f"cannot write '{path}': {why}")
    return path


def file_format(path: str | Path, format: str | None = None) -> str:
    """The format asked for, or the one the file name implies (``.onnx``, ``.pt2``; otherwise
    torchscript); a name that says another format is an error."""
    implied = _SUFFIXES.get(Path(path).suffix.lower())
    if format is None:
        return implied or "torchscript"
    if format not in FORMATS:
        raise UnsupportedError(f"unknown export format {format!r}; formats: {', '.join(FORMATS)}")
    if implied is not None and implied != format:
        raise UnsupportedError(
            f"'{path}' is named as a {implied} file but the format is {format}",
            hint=f"name it {_NAMES[format]} or leave the format out",
        )
    return format


_SUFFIXES = {".onnx": "onnx", ".pt2": "exported"}
_NAMES = {"torchscript": "e.g. .pt", "exported": ".pt2", "onnx": ".onnx"}


def example_input(
    module: ActivationModule, shape: Sequence[int] | None = None, example: torch.Tensor | None = None
) -> torch.Tensor:
    """The tensor an export traces: ``shape`` (or ``example``'s shape and dtype; default
    ``(2, C, 3, 3)``), every dynamic size below 2 raised to 2 (the exporters would fix a size-1
    dimension to 1)."""
    if shape is not None and example is not None:
        raise ActlangError("give export a shape or an example, not both")
    dtype = next((p.dtype for p in module.parameters()), torch.get_default_dtype())
    if example is not None:
        if not isinstance(example, torch.Tensor) or not example.is_floating_point():
            raise ActlangError(f"export's example must be a floating-point tensor, got {_describe(example)}")
        shape, dtype = tuple(example.shape), example.dtype
    elif shape is None:
        shape = _default_shape(module)
    sizes = _sizes(shape)
    fixed = _channel_dim(module, len(sizes))
    if fixed is not None and sizes[fixed] != module.channels:
        raise ActlangError(
            f"this module has {module.channels} channels along dimension {module.channel_dim}; "
            f"the example shape {tuple(sizes)} has {sizes[fixed]} there"
        )
    sizes = [n if i == fixed else max(n, 2) for i, n in enumerate(sizes)]
    return torch.randn(sizes, dtype=dtype, generator=torch.Generator().manual_seed(0))


def _describe(value: object) -> str:
    return f"a {value.dtype} tensor" if isinstance(value, torch.Tensor) else type(value).__name__


def _default_shape(module: ActivationModule) -> list[int]:
    channels = module.channels if module.channels is not None else 3
    if module.channels is None:
        return [2, channels, 3, 3]
    dim = module.channel_dim
    rank = max(4, dim + 1 if dim >= 0 else -dim)
    shape = [2] + [3] * (rank - 1)
    shape[dim] = channels
    return shape


def _sizes(shape: object) -> list[int]:
    """``shape`` as a list of sizes (a sequence of 1 to 8 non-negative ints)."""
    try:
        sizes = [operator.index(n) for n in shape]  # type: ignore[attr-defined]
    except TypeError:
        raise ActlangError(f"an export shape is a sequence of sizes, e.g. (8, 64, 32, 32); got {shape!r}") from None
    if not 1 <= len(sizes) <= 8 or any(n < 0 for n in sizes):
        raise ActlangError(f"an export shape has 1 to 8 non-negative sizes, got {tuple(sizes)}")
    return sizes


def _channel_dim(module: ActivationModule, rank: int) -> int | None:
    """The fixed dimension of a rank-``rank`` input: a per-channel module's channel dimension."""
    if module.channels is None:
        return None
    dim = module.channel_dim + rank if module.channel_dim < 0 else module.channel_dim
    if not 0 <= dim < rank:
        raise ActlangError(
            f"an input of rank {rank} has no dimension {module.channel_dim} for this module's channels"
        )
    return dim


def _failure(module: ActivationModule, format: str, error: Exception) -> UnsupportedError:
    """An error naming the op the exporter had no translation for (inside module primitives too)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # the ONNX exporter colours its messages
    op = re.search(r"op='([\w.]+)'", text) or re.search(r"aten::\w+", text)
    if op is not None:
        name = op.group(1) if op.groups() else op.group(0)
        others = ", ".join(f for f in FORMATS if f != format)
        return UnsupportedError(f"{format} cannot express {name} in {module.expression}", hint=f"try {others}")
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return UnsupportedError(f"cannot export {module.expression} as {format}: {first}")


def _torchscript(module: ActivationModule, path: Path, example: torch.Tensor) -> None:
    torch.jit.script(module).save(str(path))


def _exported(module: ActivationModule, path: Path, example: torch.Tensor) -> None:
    with _rank_guard(module, example.dim()):
        program = torch.export.export(module, (example,), dynamic_shapes=(_dynamic(module, example),))
    torch.export.save(program, str(path))


def _onnx(module: ActivationModule, path: Path, example: torch.Tensor) -> None:
    try:
        import onnxscript  # noqa: F401 - the dynamo exporter needs it
    except ImportError as error:
        hint = "pip install onnx onnxscript"
        raise UnsupportedError("onnx export needs the onnx and onnxscript packages", hint=hint) from error
    with contextlib.ExitStack() as stack:
        for sub in module.modules():  # an ONNX file is for inference: learned tables as constants
            if callable(frozen := getattr(sub, "frozen", None)):
                stack.enter_context(frozen(example.dtype))
        with contextlib.redirect_stdout(None):  # the exporter prints progress lines
            torch.onnx.export(
                module, (example,), str(path), dynamo=True, dynamic_shapes=(_dynamic(module, example),),
                input_names=["x"], output_names=["y"], verbose=False,
            )
    check_onnx(module, path, example)


_WRITERS = {"torchscript": _torchscript, "exported": _exported, "onnx": _onnx}


def _dynamic(module: ActivationModule, example: torch.Tensor) -> dict[int, object]:
    fixed = _channel_dim(module, example.dim())
    return {i: torch.export.Dim.AUTO for i in range(example.dim()) if i != fixed}


@contextlib.contextmanager
def _rank_guard(module: ActivationModule, rank: int) -> Iterator[None]:
    """While exporting, an identity permute of x heads the graph: a saved program checks sizes
    but not the rank, and a per-channel module given another rank would broadcast its channel
    values along the wrong dimension; the permute fails instead, naming both ranks."""
    order = list(range(rank))
    handle = module.register_forward_pre_hook(lambda _, args: (args[0].permute(order), *args[1:]))
    try:
        yield
    finally:
        handle.remove()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' chatter (deprecation notes, optional-package log lines)."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextlib.contextmanager
def _eval_mode(module: ActivationModule) -> Iterator[None]:
    training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(training)
