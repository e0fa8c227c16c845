"""Issue 12's robustness target: over N generated hostile inputs per entry point (default 5,000),
no exception but an ``ActlangError`` escapes, and no call takes over 5 s.

Entry points: ``compile`` (then one training step: forward and backward with grad, float32 or
float64, with and without ``channels``, memory-efficient or plain), ``evaluate`` (with a hostile
``params``), and the CLI's ``compile``/``check`` through :func:`actlang.cli.main`. Inputs come from
``tests/hostile.py`` (names that are keywords, builtins, dunders, ``nn.Module`` attributes or the
compiler's identifiers; huge, tiny, denormal, signed-zero, NaN and infinite hyperparameters;
nesting up to past the depth limit; variadic calls with up to 800 arguments; stateful primitives on
something other than x; extreme DiTAC priors). The first call pays for sympy's and torch's lazy
imports; it runs before the timing, as a warm-up. Each call's CPU time (the process's) and wall
time are measured; the 5 s bound is on CPU time, which a loaded shared machine does not stretch
(the slowest wall time is printed beside it). Run:
``python benchmarks/hostile_inputs.py [N] [--start S]``. Exit 1 when a target is missed.
"""

from __future__ import annotations

import collections
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LIMIT_S = 5.0


def main(argv: list[str]) -> int:
    from tests import hostile

    count = int(argv[0]) if argv and not argv[0].startswith("-") else 5000
    start = int(argv[argv.index("--start") + 1]) if "--start" in argv else 0
    warm = time.perf_counter()
    hostile.outcome(lambda: hostile.run_compile(hostile.Case("x * sigmoid(a * x)", None, True, False)))
    print(f"warm-up (imports): {time.perf_counter() - warm:.1f} s")
    entries = {
        "compile+train": lambda c, s: hostile.run_compile(c),
        "evaluate": lambda c, s: hostile.run_evaluate(c, s),
        "cli compile/check": lambda c, s: hostile.run_cli(c, s),
    }
    counts: dict[str, collections.Counter] = {name: collections.Counter() for name in entries}
    slowest: dict[str, tuple[float, str]] = {name: (0.0, "") for name in entries}  # by CPU time
    slowest_wall: dict[str, float] = {name: 0.0 for name in entries}
    failures = []
    began = time.perf_counter()
    for seed in range(start, start + count):
        case = hostile.case(seed)
        for name, run in entries.items():
            cpu = time.process_time()
            kind, seconds = hostile.outcome(lambda run=run, case=case, seed=seed: run(case, seed))
            cpu = time.process_time() - cpu
            counts[name]["ok" if kind == "ok" else "ActlangError" if kind == "ActlangError" else "other"] += 1
            if kind not in ("ok", "ActlangError"):
                failures.append((name, seed, case.text[:100], kind))
            if cpu > slowest[name][0]:
                slowest[name] = (cpu, case.text[:80])
            slowest_wall[name] = max(slowest_wall[name], seconds)
        if (seed - start + 1) % 100 == 0:  # progress, so a cut-short run still reports its counts
            done = {name: dict(c) for name, c in counts.items()}
            print(f"  after {seed - start + 1}: {done}; failures {len(failures)}", flush=True)
    print(f"{count} inputs per entry point (seeds {start}..{start + count - 1}), {time.perf_counter() - began:.0f} s")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    for name in entries:
        c = counts[name]
        print(
            f"  {name:18s} ok {c['ok']:5d}  ActlangError {c['ActlangError']:5d}  other {c['other']:3d}  "
            f"slowest {slowest[name][0]:.2f} s CPU ({slowest[name][1]!r}), {slowest_wall[name]:.2f} s wall"
        )
    for failure in failures[:20]:
        print("  FAIL", *failure)
    over = [name for name in entries if slowest[name][0] > LIMIT_S]
    return 1 if failures or over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
