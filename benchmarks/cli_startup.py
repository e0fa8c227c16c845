"""Start-up time of the ``actlang`` command line: median of 9 runs per command.

Each run is a fresh ``python -m actlang ...`` process (what the ``actlang`` script does), timed
from spawn to exit: wall-clock seconds, and the CPU seconds (user + system) the process used,
which a loaded machine inflates far less than wall-clock time. ``python -c pass`` is the floor.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

RUNS = 9
COMMANDS = [
    ["-c", "pass"],
    ["-m", "actlang", "--help"],
    ["-m", "actlang", "--version"],
    ["-m", "actlang", "parse", "relu(x)"],
    ["-m", "actlang", "check", "x * sigmoid(beta * x)", "gelu_new"],
    ["-m", "actlang", "list"],
    ["-m", "actlang", "simplify", "x*sigmoid(x)"],
    ["-m", "actlang", "equiv", "silu(x)", "x*sigmoid(x)"],
]


def measure(argv: list[str]) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of ``RUNS`` fresh processes."""
    walls, cpus = [], []
    for _ in range(RUNS):
        before = os.times()
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    print(f"{'command':<45} {'wall s':>7} {'cpu s':>7}   (median of {RUNS})")
    for argv in COMMANDS:
        wall, cpu = measure(argv)
        shown = "python " + " ".join(argv) if argv[0] == "-c" else "actlang " + " ".join(argv[2:])
        print(f"{shown:<45} {wall:7.3f} {cpu:7.3f}")


if __name__ == "__main__":
    main()
