"""Φ in DiTAC's kernels: the current form against the earlier one, side by side in one process.

Current (``actlang.cpab.normal``): erfc(z) = e^{−z²}·t·Q(t), the exponential shared with φ.
Earlier: erfc(z) = t·exp(P(t) − z²) (Numerical Recipes' degree-9 P, the exponential after the
polynomial) and φ from a second exponential. Each case is ``torch.compile``d with the lookup
kernels' FMA contraction: Φ alone, the lookup forward and the backward with the tables' weights,
on 1M float32 values (ditac[a=-3, b=3], 2,050 pieces); every sample times ``--inner`` calls of
each case in a random order; medians and minima over ``--samples``.

    python benchmarks/normal_cdf_forms.py [--samples 41] [--inner 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import torch
import torch._inductor.config as inductor_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's actlang

from compiler_bench import per_call_times, print_times

from actlang.cpab import lookup, normal

_EARLIER_P = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196,
              1.00002368, -1.26551223)  # fmt: skip


def earlier_cdf(x: torch.Tensor) -> torch.Tensor:
    """Φ as the kernels computed it before: erfc(|z|) = t·exp(P(t) − z²)."""
    z = x * -0.7071067811865476
    size = torch.abs(z)
    t = 1.0 / (1.0 + 0.5 * size)
    poly = torch.full_like(size, _EARLIER_P[0])
    for coefficient in _EARLIER_P[1:]:
        poly = poly * t + coefficient
    half = t * torch.exp(poly - size * size) * 0.5
    return torch.where(z >= 0, half, 1.0 - half)


def earlier_parts(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return earlier_cdf(x), torch.exp(x * x * -0.5) * normal.INV_SQRT_2PI


def cases(parts: dict) -> dict:
    """The three timed functions of one form (``parts``: x → (Φ, φ))."""

    def forward(x: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
        _, base, rise = lookup.locate(x, tables, -3.0, 3.0, False, 1)
        return (base + rise * x) * parts(x)[0]

    def backward(g: torch.Tensor, x: torch.Tensor, tables: torch.Tensor) -> tuple[torch.Tensor, ...]:
        k, base, rise = lookup.locate(x, tables, -3.0, 3.0, False, 1)
        cdf, density = parts(x)
        weight = g * cdf
        return g * (rise * cdf + (base + rise * x) * density), lookup.pack(weight, weight * x), k.to(torch.int64)

    return {"Φ": lambda x: parts(x)[0], "forward": forward, "backward": backward}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=41)
    parser.add_argument("--inner", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    inductor_config.cpp.enable_floating_point_contract_flag = lookup.FLOATING_POINT_CONTRACT
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1_000_000, generator=generator) * 2
    g = torch.randn(1_000_000, generator=generator)
    rise = torch.randn(2050, generator=generator) * 0.01
    tables = lookup.pack(torch.randn(2050, generator=generator) * 0.01, 1 + rise)
    inputs = {"Φ": (x,), "forward": (x, tables), "backward": (g, x, tables)}
    runs = {}
    for form, parts in (("current", normal.normal_cdf_and_density), ("earlier", earlier_parts)):
        for name, function in cases(parts).items():
            compiled = torch.compile(function, dynamic=False)
            runs[f"{name}, {form}"] = functools.partial(compiled, *inputs[name])
    for run in runs.values():
        run()  # compiled before the timing
    times = per_call_times(runs, args.samples, args.inner)
    print(f"1M float32, {args.threads} threads, torch {torch.__version__}, "
          f"{args.samples} samples of {args.inner} calls")
    print_times(times)


if __name__ == "__main__":
    main()
