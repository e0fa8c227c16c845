"""Export round trips shared by the tests and ``benchmarks/export_sweep.py``.

:func:`case` builds one expression per registered primitive (required hyperparameters filled
in, extra arguments as learned scalars, so their gradients are exercised); :func:`write` exports
a module at a given rank; :func:`load_elsewhere` loads a batch of files in a fresh process in
which ``import actlang`` fails, runs them on inputs of other sizes and, for ``exported`` files,
takes gradients w.r.t. the input and every parameter (and lists the graph's ``out=`` kernels);
:func:`compare` checks them against the module itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import torch

import actlang
from actlang.registry import REQUIRED, Primitive

# Values for required hyperparameters (cpab's domain and cells).
REQUIRED_VALUES = {"a": -3.0, "b": 3.0, "cells": 8}
EXTRA = ("q", "r")
INITS = {"q": 0.75, "r": 1.25}

LOADER = textwrap.dedent(
    """
    import sys
    sys.modules["actlang"] = None  # a process where actlang cannot be imported
    import json, torch
    jobs, out_path = json.loads(sys.argv[1]), sys.argv[2]
    results = []
    for job in jobs:
        x = torch.load(job["x"])
        try:
            if job["format"] == "exported":
                program = torch.export.load(job["file"])
                out = [str(n.target) for n in program.graph.nodes if str(n.target).endswith(".out")]
                module = program.module()
                x = x.clone().requires_grad_()
                y = module(x)
                if y.requires_grad:  # not for a constant (zero(x), sign(x))
                    y.backward(torch.ones_like(y))
                grads = {name: p.grad for name, p in module.named_parameters()}
                results.append({"y": y.detach(), "x": x.grad, "params": grads, "out_kernels": out})
            elif job["format"] == "torchscript":
                results.append({"y": torch.jit.load(job["file"])(x).detach()})
            else:
                import onnxruntime
                session = onnxruntime.InferenceSession(job["file"], providers=["CPUExecutionProvider"])
                results.append({"y": torch.from_numpy(session.run(None, {"x": x.numpy()})[0])})
        except Exception as error:
            results.append({"error": f"{type(error).__name__}: {error}"[:500]})
    torch.save(results, out_path)
    """
)


def case(primitive: Primitive) -> str:
    """``name[required](x, q, r)``: x first, extra arguments learned scalars (``q * x`` for a
    module primitive)."""
    hyper = [f"{h.name}={REQUIRED_VALUES[h.name]}" for h in primitive.hyper if h.default is REQUIRED]
    count = primitive.arity if primitive.arity is not None else max(primitive.min_args, 2)
    # A module primitive's arguments are x-shaped (mix broadcasts its weights against each one).
    args = ["x", *(f"{n} * x" if primitive.module else n for n in EXTRA[: count - 1])]
    text = f"{primitive.name}{'[' + ', '.join(hyper) + ']' if hyper else ''}({', '.join(args)})"
    used = [name for name in EXTRA[: count - 1]]
    return text + (" where " + ", ".join(f"{n} = {INITS[n]}" for n in used) if used else "")


def shape(rank: int, channels: int | None, size: int = 3) -> list[int]:
    """A rank-``rank`` shape with the channels (if any) at dimension 1."""
    sizes = [2] + [size] * (rank - 1)
    if channels is not None:
        sizes[1] = channels
    return sizes


def module_for(text: str, channels: int | None, seed: int = 0) -> actlang.ActivationModule:
    """The compiled module with its parameters moved off their initial values (a θ of zero is the
    identity, whose gradient would hide a wrong table), in eval mode as the files are."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = actlang.compile(text, channels=channels).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))
    return module


def inputs(rank: int, channels: int | None, seed: int = 1) -> torch.Tensor:
    """Inputs of other sizes than the traced ones (batch 1 and 5, spatial 1 and 4)."""
    sizes = [5 if seed % 2 else 1] + [4 if (seed + i) % 2 else 1 for i in range(rank - 1)]
    if channels is not None:
        sizes[1] = channels
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(sizes, generator=generator) * 3


def load_elsewhere(jobs: list[dict], folder: Path) -> list[dict]:
    """Run ``jobs`` (``file``, ``format``, ``x``: a saved input) in a fresh process without actlang."""
    out = folder / "results.pt"
    done = subprocess.run(
        [sys.executable, "-c", LOADER, json.dumps(jobs), str(out)], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return torch.load(out)


def expected(module: actlang.ActivationModule, x: torch.Tensor) -> dict:
    """What a loaded file should give: the module's values and gradients (its default path)."""
    module.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_()
    y = module(x)
    if y.requires_grad:  # not for a constant (zero(x), sign(x)): no gradient on either side
        y.backward(torch.ones_like(y))
    grads = {name: p.grad for name, p in module.named_parameters()}
    return {"y": y.detach(), "x": x.grad, "params": grads}


def compare(got: dict, want: dict, grads: bool) -> str | None:
    """None when ``got`` matches ``want`` (within 1e-5 relative, 1e-6 absolute; NaN where NaN),
    else what differs."""
    if "error" in got:
        return got["error"]
    if got.get("out_kernels"):  # an out= kernel in a graph fails under autograd
        return f"out= kernels in the graph: {got['out_kernels']}"
    pairs = [("y", got["y"], want["y"])]
    if grads:
        pairs.append(("x.grad", got["x"], want["x"]))
        for name, value in want["params"].items():
            pairs.append((f"{name}.grad", got["params"].get(name), value))
    for label, a, b in pairs:
        if (a is None) != (b is None):  # no gradient on one side: the other must be zero
            if bool((b if a is None else a).abs().sum() != 0):
                return f"{label}: one of them is None"
            continue
        if a is not None and (a.shape != b.shape or not torch.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)):
            return f"{label} differs"
    return None
