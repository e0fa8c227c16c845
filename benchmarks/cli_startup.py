"""Start-up time of the ``actlang`` command line: median of 9 runs per command.

Each run is a fresh ``python -m actlang ...`` process (what the ``actlang`` script does), timed
from spawn to exit: wall-clock seconds, and the CPU seconds (user + system) the process used,
which a loaded machine inflates far less than wall-clock time. ``python -c pass`` is the floor.

Two conditions: ``bytecode``, as an installed package runs (pip compiles the modules when it
installs them): each command runs once unmeasured to fill a bytecode cache in a temporary folder
(``PYTHONPYCACHEPREFIX``); and ``source``, with ``PYTHONDONTWRITEBYTECODE=1`` and no cache next to
the sources, so that every run compiles actlang's modules again (an editable checkout in an
environment that sets that variable). The load average is printed before and after.

``--against DIR`` compares with another checkout (e.g. ``git worktree add /tmp/old COMMIT``): its
runs alternate with this checkout's, so both see the same load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
HERE = Path(__file__).resolve().parents[1]


def run_once(argv: list[str], env: dict[str, str], checkout: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one fresh process run in ``checkout``."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, env=env, cwd=checkout)
    wall = time.perf_counter() - start
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def measure(argv: list[str], env: dict[str, str], checkouts: list[Path]) -> list[tuple[float, float]]:
    """Per checkout, median wall-clock and median CPU seconds of ``RUNS`` runs (alternating)."""
    for checkout in checkouts:  # unmeasured: fills the bytecode cache of the bytecode condition
        subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, env=env, cwd=checkout)
    runs: list[list[tuple[float, float]]] = [[] for _ in checkouts]
    for _ in range(RUNS):
        for index, checkout in enumerate(checkouts):
            runs[index].append(run_once(argv, env, checkout))
    return [(statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for r in runs]


def environments(cache: str) -> dict[str, dict[str, str]]:
    """The child environment of each condition (see the module docstring)."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    return {"bytecode": {**base, "PYTHONPYCACHEPREFIX": cache}, "source": {**base, "PYTHONDONTWRITEBYTECODE": "1"}}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--against", type=Path, help="another checkout to compare with (its figures first)")
    args = options.parse_args()
    checkouts = [args.against.resolve(), HERE] if args.against else [HERE]
    for checkout in checkouts:
        if caches := list((checkout / "actlang").rglob("__pycache__")):
            print(f"note: {caches[0]} and {len(caches) - 1} more: the source condition reads them; delete them "
                  "for a true from-source figure")
    print(f"load average {os.getloadavg()[0]:.2f}; median of {RUNS}; seconds, wall/CPU"
          + (f"; {checkouts[0]} -> this checkout" if args.against else ""))
    with tempfile.TemporaryDirectory() as cache:
        envs = environments(cache)
        print(f"{'command':<45} " + " ".join(f"{name:>23}" for name in envs))
        for argv in COMMANDS:
            shown = "python " + " ".join(argv) if argv[0] == "-c" else "actlang " + " ".join(argv[2:])
            cells = []
            for env in envs.values():
                figures = measure(argv, env, checkouts)
                cells.append(" -> ".join(f"{wall:.3f}/{cpu:.2f}" for wall, cpu in figures))
            print(f"{shown:<45} " + " ".join(f"{cell:>23}" for cell in cells), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
