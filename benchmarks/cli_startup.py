"""Start-up time of the ``actlang`` command line: median of 9 runs per command.

Each run is a fresh ``python -m actlang ...`` process (what the ``actlang`` script does), timed
from spawn to exit: wall-clock seconds, and the CPU seconds (user + system) the process used,
which a loaded machine inflates far less than wall-clock time. ``python -c pass`` is the floor.

Two conditions: ``bytecode``, as an installed package runs (pip compiles the modules when it
installs them): each command runs once unmeasured to fill a bytecode cache in a temporary folder
(``PYTHONPYCACHEPREFIX``); and ``source``, with ``PYTHONDONTWRITEBYTECODE=1`` and no cache next to
the sources, so that every run compiles actlang's modules again (an editable checkout in an
environment that sets that variable). The load average is printed before and after.
"""

from __future__ import annotations

import importlib.util
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


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of ``RUNS`` fresh processes."""
    walls, cpus = [], []
    for _ in range(RUNS):
        before = os.times()
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, env=env)
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
    return statistics.median(walls), statistics.median(cpus)


def environments(cache: str) -> dict[str, dict[str, str]]:
    """The child environment of each condition (see the module docstring)."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    return {"bytecode": {**base, "PYTHONPYCACHEPREFIX": cache}, "source": {**base, "PYTHONDONTWRITEBYTECODE": "1"}}


def compiled_next_to_sources() -> list[Path]:
    """``__pycache__`` folders in the actlang package ``python -m actlang`` runs from here: the
    ``source`` condition would read them, and measure bytecode after all."""
    spec = importlib.util.find_spec("actlang")
    folders = spec.submodule_search_locations if spec and spec.submodule_search_locations else []
    return [cache for folder in folders for cache in Path(folder).rglob("__pycache__")]


def main() -> None:
    if found := compiled_next_to_sources():
        print(f"note: {len(found)} __pycache__ folders next to the sources (e.g. {found[0]}): the source "
              "condition reads them; delete them for a true from-source figure")
    print(f"load average {os.getloadavg()[0]:.2f}; median of {RUNS}")
    print(f"{'command':<45} {'bytecode wall s':>15} {'cpu s':>6} {'source wall s':>14} {'cpu s':>6}")
    with tempfile.TemporaryDirectory() as cache:
        envs = environments(cache)
        for argv in COMMANDS:
            subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, env=envs["bytecode"])
            figures = [figure for env in envs.values() for figure in measure(argv, env)]
            shown = "python " + " ".join(argv) if argv[0] == "-c" else "actlang " + " ".join(argv[2:])
            print(f"{shown:<45} {figures[0]:15.3f} {figures[1]:6.3f} {figures[2]:14.3f} {figures[3]:6.3f}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
