"""How closely each primitive's torch code matches its numpy reference (issue #2: 1e-6 relative).

For every template primitive (module primitives are measured by the compiler's own checks), on
the unary grid of tests/test_primitives.py (|x| from 1e-8 to 1e4, kinks, overflow edges) and
the all-pairs grid for binary/variadic ones, in float64 and float32: the largest relative error
where the reference is finite and not tiny, and the points whose agreement rests on the absolute
floor (results below a few ulp, e.g. gelu's underflowing tail). Run with
``python benchmarks/primitive_accuracy.py`` or ``make bench``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import actlang
from actlang.evaluate import evaluate
from tests.test_primitives import _skip_reason, arg_counts, build, hyper_variants, run_torch


def errors(primitive, hp, dtype: str) -> tuple[float, int, int]:
    """(max relative error where |reference| > 1e-12, points below that, points compared)."""
    import torch

    worst, tiny, total = 0.0, 0, 0
    for count in arg_counts(primitive):
        expr, xs, extra = build(primitive, hp, count)
        if dtype == "float32":
            xs = xs.astype(np.float32).astype(np.float64)
            extra = {k: v.astype(np.float32).astype(np.float64) for k, v in extra.items()}
        want = evaluate(expr, xs, extra)
        got = run_torch(expr, xs, extra, getattr(torch, dtype))
        if dtype == "float32":
            with np.errstate(over="ignore"):
                want = want.astype(np.float32).astype(np.float64)
        finite = np.isfinite(want) & np.isfinite(got)
        big = finite & (np.abs(want) > 1e-12)
        with np.errstate(all="ignore"):
            rel = np.abs(got[big] - want[big]) / np.abs(want[big])
        worst = max(worst, float(rel.max(initial=0.0)))
        tiny += int((finite & ~big).sum())
        total += int(finite.sum())
    return worst, tiny, total


def main() -> None:
    print(f"{'primitive':<34} {'float64 max rel':>16} {'float32 max rel':>16} {'tiny':>6} {'points':>7}")
    overall = {"float64": 0.0, "float32": 0.0}
    for primitive in actlang.primitives():
        if _skip_reason(primitive):
            continue
        for hp in hyper_variants(primitive):
            changed = {k: v for k, v in hp.items() if v != primitive.hyper_spec(k).default}
            label = primitive.name + "".join(f"[{k}={v}]" for k, v in changed.items())
            e64, tiny, total = errors(primitive, hp, "float64")
            e32, _, _ = errors(primitive, hp, "float32")
            overall["float64"] = max(overall["float64"], e64)
            overall["float32"] = max(overall["float32"], e32)
            print(f"{label:<34} {e64:16.2e} {e32:16.2e} {tiny:6d} {total:7d}")
    print(f"worst: float64 {overall['float64']:.2e}, float32 {overall['float32']:.2e} (relative, |reference| > 1e-12)")


if __name__ == "__main__":
    main()
