"""Parser throughput and worst-case latency (issue #2: >= 10,000 AQuaSurF strings/s on one core).

Measures, on one core, uncached (``actlang.parser._parse`` bypasses the parse cache):

1. parse + format of the 5,103 strings of AQuaSurF's benchmark space ``binary(unary(x),unary(x))``,
   with actlang's LALR driver and, side by side, with plain Lark on the same tables (the ratio is
   the driver's gain);
2. the slowest input among 12,000 fuzz strings and a set of pathological inputs (10,000-character
   nesting, long chains, huge numbers) — the parser must finish each well under a second.

Throughput is counted in CPU time of this process (``time.process_time``), so other jobs on a
shared machine do not distort it; wall-clock figures are printed beside it. Figures are medians
of several repeats; run with ``python benchmarks/parse_throughput.py`` or
``make bench``. Results are recorded in docs/performance.md ("Parser").
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import actlang
from actlang import parser as parser_module
from actlang.lalr import FALLBACK
from actlang.parser import MAX_DEPTH, MAX_LENGTH, _parse
from actlang.printer import format_expr

UNARY = (
    "zero one identity negative abs reciprocal square exp erf erfc sinh cosh tanh expm1 sigmoid "
    "log_sigmoid arcsinh arctan bessel_i0e bessel_i1e relu elu selu swish softplus softsign hard_sigmoid"
).split()
BINARY = "add sub mul div pow max min".split()
REPEATS = 7


def benchmark_space() -> list[str]:
    return [f"{b}({u}(x),{v}(x))" for b in BINARY for u in UNARY for v in UNARY]


def throughput(texts: list[str]) -> tuple[float, float]:
    """Strings per CPU second and per wall second for parse + canonical format (medians)."""
    cpu, wall = [], []
    for _ in range(REPEATS):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        for text in texts:
            format_expr(_parse(text, MAX_LENGTH, MAX_DEPTH))
        cpu.append(len(texts) / (time.process_time() - start_cpu))
        wall.append(len(texts) / (time.perf_counter() - start_wall))
    return statistics.median(cpu), statistics.median(wall)


class _LarkOnly:
    def parse(self, text: str) -> object:
        return FALLBACK


def lark_throughput(texts: list[str]) -> tuple[float, float]:
    saved = parser_module._driver
    parser_module._driver = _LarkOnly  # every string goes through Lark's own LALR loop
    try:
        return throughput(texts)
    finally:
        parser_module._driver = saved


def worst_case(texts: list[tuple[str, str]]) -> tuple[float, str]:
    """The slowest input in CPU time (best of 3 timings each, to drop noise) and its label."""
    worst, label = 0.0, ""
    for name, text in texts:
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            try:
                _parse(text, MAX_LENGTH, MAX_DEPTH)
            except actlang.ActlangError:
                pass
            best = min(best, time.process_time() - start)
        if best > worst:
            worst, label = best, name
    return worst, label


def fuzz_inputs() -> list[tuple[str, str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.test_fuzz import FUZZ_CASES, PATHOLOGICAL, random_text

    rng = random.Random(20240602)
    fuzz = [(f"fuzz #{i}", random_text(rng)) for i in range(FUZZ_CASES)]
    return fuzz, [(what, text) for what, text, _ in PATHOLOGICAL]


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    texts = benchmark_space()
    throughput(texts[:500])  # warm up: build the grammar tables once
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, one core pinned")
    (fast, fast_wall), (slow, slow_wall) = throughput(texts), lark_throughput(texts)
    print(f"parse + format, {len(texts)} AQuaSurF strings, uncached (median of {REPEATS}), per CPU second:")
    print(f"  actlang LALR driver   {fast:10,.0f} strings/s  ({1e6 / fast:.0f} us each; wall clock {fast_wall:,.0f}/s)")
    print(f"  Lark's own LALR loop  {slow:10,.0f} strings/s  ({1e6 / slow:.0f} us each; wall clock {slow_wall:,.0f}/s)")
    verdict = "met" if fast >= 1e4 else "NOT met"
    print(f"  ratio                 {fast / slow:10.2f}x   target >= 10,000 strings/s: {verdict}")
    fuzz, pathological = fuzz_inputs()
    worst_fuzz, fuzz_label = worst_case(fuzz)
    worst_path, path_label = worst_case(pathological)
    print(f"slowest of {len(fuzz):,} fuzz strings: {worst_fuzz * 1e3:.2f} ms ({fuzz_label})")
    print(f"slowest of {len(pathological)} pathological inputs: {worst_path * 1e3:.1f} ms ({path_label})")


if __name__ == "__main__":
    main()
