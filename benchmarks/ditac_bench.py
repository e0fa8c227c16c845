"""DiTAC forward+backward on 1M float32 inputs against F.gelu, in the same run.

Cases: ``ditac[a=-3,b=3,cells=16]`` through its inductor kernels (the default), the same with
``fuse=False`` (eager torch functions), the closed form per input (``exact=true``), the module
under ``torch.compile``, and ``F.gelu`` eager and compiled. Rounds interleave the cases so that
load from other processes hits all of them alike; the figures are medians, and ratios are to
``F.gelu`` eager on the same tensor. The closed form (seconds per call) runs three times after the
rounds. ``--contention`` keeps one other busy process running; ``--model`` also times
``torch.compile`` of a small MLP with DiTAC layers (compile time, then steps against eager).
The load average (as ``uptime``) is printed with the figures: this machine is shared; so is each
case's median count of minor page faults per call.

    python benchmarks/ditac_bench.py [--size 1000000] [--rounds 15] [--threads N] [--contention]
        [--no-compile] [--no-exact] [--model]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's actlang, before compiler_bench's

from compiler_bench import busy, shuffled

import actlang
from actlang import kernel_builder

TEXT = "ditac[a=-3,b=3,cells=16](x)"


def fwd_bwd(function: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, grad: torch.Tensor) -> float:
    start = time.perf_counter()
    y = function(x)
    y.backward(grad)
    return time.perf_counter() - start


def forward_only(function: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, _: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        function(x)
    return time.perf_counter() - start


def minor_faults() -> int:
    """This process's minor page faults so far: fresh memory the kernel maps (and zeroes) on first
    touch, which on some machines costs more than the computation (see docs/performance.md)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def allocator() -> str:
    """The allocator settings the figures depend on: glibc's malloc returns freed memory to the
    system by its own thresholds, and a step whose temporaries it keeps returning pays for fresh
    pages every time (DiTAC's step took 4.6-14 ms on one machine; see docs/performance.md)."""
    settings = [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("MALLOC_") or k == "LD_PRELOAD"]
    return ", ".join(settings) or "the C library's defaults"


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--contention", action="store_true", help="one other busy process during the run")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--no-exact", action="store_true", help="skip the (slow) closed form per input")
    parser.add_argument("--model", action="store_true", help="also torch.compile a small model with DiTAC")
    args = parser.parse_args()
    other = busy() if args.contention else None
    try:
        run(args)
        if args.model:
            model_figures(args)
    finally:
        if other is not None:
            other.kill()
            other.wait()


def run(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", DeprecationWarning)
    torch.manual_seed(0)
    x = (torch.randn(args.size) * 2).requires_grad_()
    grad = torch.randn(args.size)

    ditac = actlang.compile(TEXT)
    unfused = actlang.compile(TEXT, fuse=False)
    exact = actlang.compile(TEXT.replace("cells=16", "cells=16,exact=true"))
    with torch.no_grad():  # a trained-looking θ (prior sample), shared by all
        theta = torch.randn_like(ditac.ditac_0.theta) * 0.5
        for module in (ditac, unfused, exact):
            module.ditac_0.theta.copy_(theta)
    cases: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "F.gelu eager": F.gelu,
        "ditac (inductor kernels)": ditac,
        "ditac fuse=False": unfused,
    }
    if not args.no_compile:
        cases["F.gelu torch.compile"] = torch.compile(F.gelu)
        cases["ditac torch.compile"] = torch.compile(ditac)
    for name, function in cases.items():  # warm up (and compile)
        start = time.perf_counter()
        fwd_bwd(function, x, grad)
        fwd_bwd(function, x, grad)
        if name == "ditac (inductor kernels)":
            kernel_builder.wait()  # fuse="auto" builds its kernels in the background
            with torch.no_grad():
                function(x)  # the forward kernel is a separate file
            kernel_builder.wait()
            fwd_bwd(function, x, grad)
        print(f"# warm-up {name}: {time.perf_counter() - start:.1f} s", flush=True)

    before = load()
    timings: dict[str, list[float]] = {name: [] for name in cases}
    faults: dict[str, list[int]] = {name: [] for name in cases}
    inference: dict[str, list[float]] = {name: [] for name in ("F.gelu eager", "ditac (inductor kernels)")}
    # Each round in its own order (compiler_bench.shuffled), the inference pair too.
    rounds = zip(shuffled(list(cases), args.rounds), shuffled(list(inference), args.rounds, 1), strict=True)
    for order, inference_order in rounds:
        for name in order:
            function = cases[name]
            start = minor_faults()
            timings[name].append(fwd_bwd(function, x, grad))
            faults[name].append(minor_faults() - start)
            x.grad = None
        for name in inference_order:
            inference[name].append(forward_only(cases[name], x, grad))
    after = load()

    if not args.no_exact:  # seconds per call: a few calls, not interleaved
        timings["ditac exact eager"] = [fwd_bwd(exact, x, grad) for _ in range(3)]
        x.grad = None

    base = statistics.median(timings["F.gelu eager"])
    busy_note = ", one other busy process" if args.contention else ""
    print(f"\n{TEXT} vs F.gelu, {args.size:,} float32 inputs, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, median of {args.rounds} interleaved rounds{busy_note}")
    print(f"before the rounds: {before}; after: {after}; memory allocator: {allocator()}\n")
    print("| case | forward+backward (ms) | × F.gelu eager | minor page faults per call |")
    print("|---|---:|---:|---:|")
    for name, values in timings.items():
        median = statistics.median(values)
        fault_count = f"{statistics.median(faults[name]):.0f}" if name in faults else ""
        print(f"| {name} | {median * 1e3:.2f} | {median / base:.1f} | {fault_count} |")
    gelu_fwd = statistics.median(inference["F.gelu eager"])
    ditac_fwd = statistics.median(inference["ditac (inductor kernels)"])
    print(f"\nforward only (no_grad): F.gelu {gelu_fwd * 1e3:.2f} ms, ditac {ditac_fwd * 1e3:.2f} ms "
          f"({ditac_fwd / gelu_fwd:.1f}×)")


def model_figures(args: argparse.Namespace) -> None:
    """torch.compile of Linear(64, 256) → DiTAC → Linear(256, 256) → DiTAC (per channel) →
    Linear(256, 10) on a batch of 4096: compile time (first step), then training steps against eager."""
    torch.manual_seed(0)
    layers = [
        torch.nn.Linear(64, 256), actlang.compile(TEXT), torch.nn.Linear(256, 256),
        actlang.compile(TEXT, channels=256, channel_dim=-1), torch.nn.Linear(256, 10),
    ]  # fmt: skip
    model = torch.nn.Sequential(*layers)
    x = torch.randn(4096, 64)

    def step(function: Callable[[torch.Tensor], torch.Tensor]) -> float:
        start = time.perf_counter()
        function(x).square().mean().backward()
        return time.perf_counter() - start

    step(model)  # the eager path's own kernels compiled first
    compiled = torch.compile(model)
    first = step(compiled)
    step(compiled)
    steps: dict[str, list[float]] = {"eager": [], "torch.compile": []}
    before = load()
    for _ in range(args.rounds):
        steps["eager"].append(step(model))
        steps["torch.compile"].append(step(compiled))
    eager, fast = (statistics.median(v) for v in steps.values())
    print(f"\ntorch.compile of an MLP with two DiTAC layers (batch 4096): first step (compiling) {first:.1f} s; "
          f"training step eager {eager * 1e3:.1f} ms, compiled {fast * 1e3:.1f} ms ({fast / eager:.2f}× eager); "
          f"{before}; after: {load()}")


if __name__ == "__main__":
    main()
