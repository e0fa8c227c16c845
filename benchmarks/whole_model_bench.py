"""Whole-model cost of an activation, as the DiTAC paper measures it (supplement, Table 10).

timm's ``mobilenetv3_small_100`` and a small ConvNeXt (``convnext_atto``), random weights (no
download), each in three variants built in one process and timed interleaved, repeat by repeat:

- ``original``: the model as timm builds it (ReLU/Hardswish; GELU);
- ``ditac``: every activation layer replaced by ``actlang.compile("ditac(x)")`` (a new module
  per site; gates — ``Sigmoid``/``Hardsigmoid`` in squeeze-excite blocks — are left alone);
- ``x*sigmoid(x)``: every activation replaced by ``actlang.compile("x*sigmoid(x)")``.

Measured: inference latency (``eval``, ``no_grad``) at batch 1 and 32, and one training step at
batch 32 (forward, cross-entropy, backward, SGD step), 224×224 inputs; medians of ``--repeats``.
Prints a markdown table with each variant's ratio to the original.

    python benchmarks/whole_model_bench.py [--repeats 5] [--size 224] [--threads N] [--models a,b]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import actlang
from actlang import kernel_builder
from actlang.models import ACTIVATION_TYPES

MODELS = ("mobilenetv3_small_100", "convnext_atto")
VARIANTS = {"original": None, "ditac": "ditac(x)", "x*sigmoid(x)": "x*sigmoid(x)"}
GATES = (nn.Sigmoid, nn.Hardsigmoid)


def timm_module():
    """timm, importable here (the torchvision schema repair the tests use; see tests/thirdparty.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.thirdparty import repair_torchvision

    repair_torchvision()
    import timm

    return timm


def build(name: str, expression: str | None) -> tuple[nn.Module, int]:
    """The model with every activation layer replaced by ``expression`` (None: as built), and how many."""
    torch.manual_seed(0)
    model = timm_module().create_model(name, pretrained=False, num_classes=1000)
    if expression is None:
        return model, 0
    from timm.layers import activations  # timm's own layers (ConvNeXt's GELU is timm's, not nn.GELU)

    names = ("GELU", "GELUTanh", "Swish", "HardSwish", "Mish")
    own = tuple(getattr(activations, n) for n in names if hasattr(activations, n))
    types = tuple(t for t in ACTIVATION_TYPES if t not in GATES) + own
    sites = sum(isinstance(m, types) for m in model.modules())
    return actlang.replace_activations(model, expression, types), sites


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cases(model: nn.Module, size: int) -> dict[str, Callable[[], object]]:
    """The three measurements on one model, as callables."""
    one, batch = torch.randn(1, 3, size, size), torch.randn(32, 3, size, size)
    labels = torch.randint(0, 1000, (32,))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def infer(x: torch.Tensor) -> None:
        model.eval()
        with torch.no_grad():
            model(x)

    def step() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(batch), labels).backward()
        optimizer.step()

    return {
        "inference, batch 1": lambda: infer(one),
        "inference, batch 32": lambda: infer(batch),
        "training step, batch 32": step,
    }


def measure(name: str, size: int, repeats: int) -> dict[str, dict[str, float]]:
    models = {variant: build(name, expression) for variant, expression in VARIANTS.items()}
    for variant, (_, sites) in models.items():
        if sites:
            print(f"{name}: {variant} at {sites} activation sites", flush=True)
    runs = {variant: cases(model, size) for variant, (model, _) in models.items()}
    for _ in range(2):  # warm-up (DiTAC's tables, the fused functions, allocator)
        for run in runs.values():
            for fn in run.values():
                fn()
        kernel_builder.wait()  # kernels that fuse="auto" builds in the background
    times = {variant: {case: [] for case in run} for variant, run in runs.items()}
    for _ in range(repeats):
        for case in next(iter(runs.values())):
            for variant, run in runs.items():
                if case.startswith("inference"):
                    # Once untimed: the previous round's optimizer step changed DiTAC's θ, and a
                    # deployed model's tables are computed once, not per call.
                    run[case]()
                times[variant][case].append(timed(run[case]))
    return {v: {c: statistics.median(t) for c, t in cs.items()} for v, cs in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size}x{args.size}, "
          f"median of {args.repeats}\n")  # fmt: skip
    for name in args.models.split(","):
        result = measure(name, args.size, args.repeats)
        print("\n| model | case | activation | ms | × original |\n|---|---|---|---:|---:|")
        for case in result["original"]:
            base = result["original"][case]
            for variant, found in result.items():
                ratio = found[case] / base
                print(f"| {name} | {case} | {variant} | {1e3 * found[case]:.1f} | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
