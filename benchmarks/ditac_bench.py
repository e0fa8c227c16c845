"""DiTAC forward+backward on 1M float32 inputs against F.gelu, in the same run.

Cases: the lookup-table fast path (default ``ditac``), the closed form per input
(``exact=true``), both eager and under ``torch.compile``, and ``F.gelu`` eager and compiled.
Rounds interleave the cases so that load from other processes hits all of them alike; the
figures are medians, and ratios are to ``F.gelu`` eager on the same tensor. The closed form
(seconds per call) runs three times after the rounds.

    python benchmarks/ditac_bench.py [--size 1000000] [--rounds 15] [--threads N] [--no-compile] [--no-exact]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F

import actlang


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--no-exact", action="store_true", help="skip the (slow) closed form per input")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", DeprecationWarning)
    torch.manual_seed(0)
    x = (torch.randn(args.size) * 2).requires_grad_()
    grad = torch.randn(args.size)

    ditac = actlang.compile("ditac(x)")
    exact = actlang.compile("ditac[exact=true](x)")
    with torch.no_grad():  # a trained-looking θ (prior sample), shared by both
        theta = torch.randn_like(ditac.ditac_0.theta) * 0.5
        ditac.ditac_0.theta.copy_(theta)
        exact.ditac_0.theta.copy_(theta)
    cases: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "F.gelu eager": F.gelu,
        "ditac lookup eager": ditac,
    }
    if not args.no_compile:
        cases["F.gelu torch.compile"] = torch.compile(F.gelu)
        cases["ditac lookup torch.compile"] = torch.compile(ditac)
    for name, function in cases.items():  # warm up (and compile)
        start = time.perf_counter()
        fwd_bwd(function, x, grad)
        fwd_bwd(function, x, grad)
        print(f"# warm-up {name}: {time.perf_counter() - start:.1f} s", flush=True)

    timings: dict[str, list[float]] = {name: [] for name in cases}
    inference: dict[str, list[float]] = {name: [] for name in ("F.gelu eager", "ditac lookup eager")}
    for _ in range(args.rounds):
        for name, function in cases.items():
            timings[name].append(fwd_bwd(function, x, grad))
            x.grad = None
        for name in inference:
            inference[name].append(forward_only(cases[name], x, grad))

    if not args.no_exact:  # seconds per call: a few calls, not interleaved
        timings["ditac exact eager"] = [fwd_bwd(exact, x, grad) for _ in range(3)]
        x.grad = None

    base = statistics.median(timings["F.gelu eager"])
    print(f"\nDiTAC vs F.gelu, {args.size:,} float32 inputs, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, median of {args.rounds} interleaved rounds\n")
    print("| case | forward+backward (ms) | × F.gelu eager |")
    print("|---|---:|---:|")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"| {name} | {median * 1e3:.2f} | {median / base:.1f} |")
    if "ditac lookup torch.compile" in timings:
        ratio = statistics.median(timings["ditac lookup torch.compile"]) / statistics.median(
            timings["F.gelu torch.compile"]
        )
        print(f"\nditac lookup torch.compile / F.gelu torch.compile: {ratio:.1f}×")
    gelu_fwd = statistics.median(inference["F.gelu eager"])
    ditac_fwd = statistics.median(inference["ditac lookup eager"])
    print(f"forward only (no_grad): F.gelu {gelu_fwd * 1e3:.2f} ms, ditac lookup {ditac_fwd * 1e3:.2f} ms "
          f"({ditac_fwd / gelu_fwd:.1f}×)")


if __name__ == "__main__":
    main()
