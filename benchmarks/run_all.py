"""Run every benchmark script in benchmarks/ (``make bench``), one after another.

Each script is run as its own process with this interpreter, so one script's imports, caches
and threads never skew another's figures. ``python benchmarks/run_all.py parse`` runs only the
scripts whose file name contains ``parse``. Exit status: the number of failed scripts (capped).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts(filters: list[str]) -> list[Path]:
    """The benchmark scripts, sorted by name, optionally filtered by substrings."""
    found = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))
    return [p for p in found if not filters or any(f in p.stem for f in filters)]


def main(argv: list[str]) -> int:
    if {"-h", "--help"} & set(argv):
        print(__doc__.strip())
        print("\nscripts:", ", ".join(p.stem for p in scripts([])))
        return 0
    failed = []
    for script in scripts(argv):
        print(f"==> {script.relative_to(HERE.parent)}", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        print(f"<== {script.name}: exit {done.returncode} after {time.perf_counter() - start:.1f} s\n", flush=True)
        if done.returncode:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return min(len(failed), 100)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
