"""Search spaces: time and peak memory of enumeration and deduplication (docs/search.md).

Each case runs in its own process, so its peak resident memory (``ru_maxrss``, the whole process:
interpreter, numpy, actlang) is its own. Each case is repeated ``--repeat`` times (median wall
time reported). ``python benchmarks/search_bench.py --quick`` skips the large-space runs.

Targets (issue #7): benchmark space, outputs: 2,913 ± 10 classes in ≤ 2 s; large space
(1,023,524 strings), outputs: within 1 % of 425,896 classes in ≤ 60 s and ≤ 4 GB.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "bench-enumerate": ("benchmark", "enumerate", "none"),
    "bench-outputs": ("benchmark", "outputs", "none"),
    "bench-outputs-strings": ("benchmark", "strings", "none"),
    "bench-negation": ("benchmark", "outputs", "negation"),
    "bench-sign": ("benchmark", "outputs", "sign"),
    "bench-numeric": ("benchmark", "numeric", "none"),
    "large-enumerate": ("aquasurf-large", "enumerate", "none"),
    "large-outputs": ("aquasurf-large", "outputs", "none"),
    "large-negation": ("aquasurf-large", "outputs", "negation"),
    "large-sign": ("aquasurf-large", "outputs", "sign"),
}


def one(case: str) -> dict:
    """Run one case in this process; report strings, classes, seconds and peak RSS."""
    from actlang import search

    preset, mode, symmetry = CASES[case]
    start = time.perf_counter()
    space = search.space(preset=preset)
    if mode == "enumerate":
        strings, classes = sum(1 for _ in space), None
    elif mode == "strings":  # the general path: parse every string, evaluate subterms once
        names = list(space)
        strings, classes = len(names), len(search.deduplicate(names))
    else:
        result = search.deduplicate(space, by=mode, symmetry=symmetry, progress=False)
        strings, classes = result.total, len(result)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"case": case, "strings": strings, "classes": classes, "seconds": seconds, "peak_mb": peak_mb}


def run_case(case: str, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--one", case], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout))
    best = dict(runs[0])
    best["seconds"] = statistics.median(r["seconds"] for r in runs)
    best["peak_mb"] = max(r["peak_mb"] for r in runs)
    return best


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="skip the large space")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median time)")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one)))
        return 0
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"{'case':24} {'strings':>10} {'classes':>9} {'seconds':>8} {'peak MB':>8}")
    failures = []
    for case in CASES:
        if args.quick and case.startswith("large"):
            continue
        r = run_case(case, args.repeat if case.startswith("bench") else 1)
        classes = "" if r["classes"] is None else f"{r['classes']:,}"
        print(f"{case:24} {r['strings']:>10,} {classes:>9} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f}", flush=True)
        if case == "bench-outputs" and not (abs(r["classes"] - 2913) <= 10 and r["seconds"] <= 2):
            failures.append(case)
        if case == "large-outputs" and not (
            abs(r["classes"] - 425_896) <= 4259 and r["seconds"] <= 60 and r["peak_mb"] <= 4096
        ):
            failures.append(case)
    if failures:
        print("targets missed: " + ", ".join(failures), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
