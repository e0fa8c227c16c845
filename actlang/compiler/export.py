"""``actlang.export``: write a compiled module to a file that plain PyTorch or onnxruntime loads.

- ``torchscript``: ``torch.jit.script(module).save(path)``; load with ``torch.jit.load``.
- ``exported``: ``torch.export.export`` with dynamic sizes, ``torch.export.save``; load with
  ``torch.export.load(path).module()``.
- ``onnx``: the dynamo ONNX exporter (needs ``onnx`` and ``onnxscript``); run with onnxruntime.

The file holds the generated plain forward (no actlang code), in inference mode: stochastic
primitives take their eval form. Before exporting, every primitive's torch template is checked
against what the format can express, so an ONNX export of ``bessel_i0e`` fails with the op's
name and the formats that can hold it, not deep inside the exporter.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import torch

from actlang.ast import Call, walk
from actlang.compiler.module import ActivationModule
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
         "torch.erfinv", "torch.special.erfinv", "F.rrelu"}
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


def export(module: ActivationModule, path: str | Path, format: Format = "torchscript", *, example=None) -> Path:
    """Write ``module`` to ``path`` in ``format``; returns the path.

    ``example`` is an input used for tracing (``exported``, ``onnx``); by default a float tensor
    of shape (2, C, 3) (C = channels, or 3). Sizes stay dynamic except the channel dimension of a
    per-channel module.
    """
    if not isinstance(module, ActivationModule):
        raise ActlangError(f"export takes a module from actlang.compile, got {type(module).__name__}")
    if format not in FORMATS:
        raise UnsupportedError(f"unknown export format {format!r}; formats: {', '.join(FORMATS)}")
    if missing := unsupported(module, format):
        name, op = missing[0]
        able = [f for f in FORMATS if not unsupported(module, f)]
        raise UnsupportedError(
            f"{format} cannot express {name} (it needs {op})",
            hint=f"formats that can: {', '.join(able)}" if able else "no export format can",
        )
    path = Path(path)
    example = _example(module) if example is None else example
    with _eval_mode(module), _quiet():
        try:
            _WRITERS[format](module, path, example)
        except ActlangError:
            raise
        except Exception as error:  # the exporters raise many types; name the expression, format, op
            raise _failure(module, format, error) from error
    return path


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
    program = torch.export.export(module, (example,), dynamic_shapes=(_dynamic(module, example),))
    torch.export.save(program, str(path))


def _onnx(module: ActivationModule, path: Path, example: torch.Tensor) -> None:
    try:
        import onnxscript  # noqa: F401 - the dynamo exporter needs it
    except ImportError as error:
        hint = "pip install onnx onnxscript"
        raise UnsupportedError("onnx export needs the onnx and onnxscript packages", hint=hint) from error
    with contextlib.redirect_stdout(None):  # the exporter prints progress lines
        torch.onnx.export(
            module, (example,), str(path), dynamo=True, dynamic_shapes=(_dynamic(module, example),),
            input_names=["x"], output_names=["y"], verbose=False,
        )  # fmt: skip


_WRITERS = {"torchscript": _torchscript, "exported": _exported, "onnx": _onnx}


def _example(module: ActivationModule) -> torch.Tensor:
    dtype = next((p.dtype for p in module.parameters()), torch.get_default_dtype())
    shape = [2, 3, 3]
    if module.channels is not None:
        shape[module.channel_dim] = module.channels
    return torch.randn(shape, dtype=dtype)


def _dynamic(module: ActivationModule, example: torch.Tensor) -> dict[int, object]:
    fixed = module.channel_dim % example.dim() if module.channels is not None else None
    return {i: torch.export.Dim.AUTO for i in range(example.dim()) if i != fixed}


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
