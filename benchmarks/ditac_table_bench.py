"""DiTAC's table per training step: θ → pieces and back, the flow in numpy against the step kernel.

For each channel count (one θ per channel; 1 = one shared θ), in one process with the two ways
interleaved round by round (medians): the table's forward (``table_forward``: the flow at the
``grid + 1`` nodes of every channel, the pieces) and backward (``table_backward``), and a whole
training step of ``ditac[a=-3,b=3,cells=16](x)`` on a small input (8 rows), where the table is
most of the cost. The kernel is built first if missing (``fuse=True``'s build).

    python benchmarks/ditac_table_bench.py [--channels 1 16 64 256] [--rounds 9] [--threads 2]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's actlang

import actlang
from actlang.cpab import module as cpab_module
from actlang.cpab import table

TEXT = "ditac[a=-3,b=3,cells=16](x)"


def seconds(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def site(channels: int) -> torch.nn.Module:
    """The DiTAC module of ``TEXT`` with a prior-like θ (one row per channel)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = actlang.compile(TEXT, channels=channels if channels > 1 else None, fuse=True)
    module = next(m for m in compiled.modules() if hasattr(m, "basis"))
    with torch.no_grad():
        module.theta.copy_(torch.from_numpy(np.random.default_rng(0).normal(0, 0.5, module.theta.shape)))
    return module


def measure(channels: int, rounds: int) -> dict[str, float]:
    module = site(channels)
    basis = module.basis.detach().double().numpy()
    spec = (basis, module.lo, module.hi, module.grid, module.mode, module.slope, module.zero_boundary)
    theta = module.theta.detach().double().numpy()
    kept = {flow: table.table_forward(theta, spec, flow) for flow in ("on", "off")}  # builds the kernel
    weights = np.random.default_rng(1).normal(size=(2, *kept["off"][0].shape))
    x = torch.randn(8, max(channels, 1), requires_grad=True)
    grad = torch.randn_like(x)
    modes = {"kernel": "on", "numpy": "off"}
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, flow in modes.items():
            forward = functools.partial(table.table_forward, theta, spec, flow)
            backward = functools.partial(table.table_backward, *weights, spec, *kept[flow][2:])
            times.setdefault(f"forward {name}", []).append(seconds(forward))
            times.setdefault(f"backward {name}", []).append(seconds(backward))
            # The module's own flow mode forced (the lookup runs its kernels either way).
            with mock.patch.object(cpab_module, "flow_mode", lambda fusion, numel, chosen=flow: chosen):
                times.setdefault(f"step {name}", []).append(seconds(lambda: module(x).backward(grad)))
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 16, 64, 256])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.rounds}, "
          f"load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")  # fmt: skip
    print("| channels | lanes | table forward: numpy / kernel ms | table backward ms | training step (8 rows) ms |")
    print("|---:|---:|---:|---:|---:|")
    for channels in args.channels:
        found = measure(channels, args.rounds)
        lanes = channels * 2049
        pairs = [(found[f"{part} numpy"], found[f"{part} kernel"]) for part in ("forward", "backward", "step")]
        cells = " | ".join(f"{a:.2f} / {b:.2f} ({a / b:.1f}×)" for a, b in pairs)
        print(f"| {channels} | {lanes:,} | {cells} |")
    print(f"load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
