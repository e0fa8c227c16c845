"""First-call latency of the fused (TorchInductor) kernels, in fresh processes.

For each expression, three fresh processes on one empty pair of cache directories
(``ACTLANG_CACHE_DIR`` for actlang's kernel files, ``TORCHINDUCTOR_CACHE_DIR`` for inductor's):

- ``cold, fuse=True``: the first training step (forward + backward, 1M float32 values) builds the
  forward and backward kernels in the process and waits for them (DiTAC: the lookup's two; the
  table flow's kernel follows in the background);
- ``warm, auto``: a second process on the same directories, default ``fuse="auto"``: the first
  step loads the kernels from disk;
- ``cold, auto`` (its own empty directories): the first step runs unfused at once while a
  background process builds the kernels; the process then waits and reports when the module
  first runs fused.

Each process times ``import torch`` + ``import actlang``, ``compile``, the first step, and a second
step. Prints a markdown table.

    python benchmarks/fuse_latency.py [--threads 2] [EXPR ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

EXPRESSIONS = ["-x*sigmoid(x)*hard_sigmoid(x)", "x*sigmoid(beta*x) where beta = 1.5", "ditac[a=-3,b=3,cells=16](x)"]

CHILD = """
import json, sys, time
start = time.perf_counter()
import torch
torch.set_num_threads(int(sys.argv[2]))
import actlang
from actlang import kernel_builder, kernel_cache
from actlang.compiler import inductor
imported = time.perf_counter()
module = actlang.compile(sys.argv[1], fuse={"on": True, "auto": "auto"}[sys.argv[3]], dialect="aquasurf")
x = torch.randn(1 << 20, requires_grad=True)
begin = time.perf_counter()
module(x).sum().backward()
first = time.perf_counter()
module(x).sum().backward()
second = time.perf_counter()
plan = inductor.plan(module.program)  # None for DiTAC: its kernels are the lookup's and the table flow's
from actlang.cpab import flow_kernel, lookup_autograd
ditac = [k for ks in lookup_autograd._KERNELS.values() for k in ks] + list(flow_kernel._KERNELS.values())
def fused():
    if plan is not None:
        return [k[0] for k, r in plan.runners.items() if hasattr(r, "run")]
    return sorted(k.name for k in ditac for r in k.runners.values() if hasattr(r, "run"))
wanted = len(plan.kernels(True)) if plan is not None else 3  # lookup forward and backward, flow steps
result = {"import": imported - start, "first": first - begin, "second": second - first, "fused": fused()}
if sys.argv[4] == "wait":
    while len(fused()) < wanted:
        kernel_builder.wait()
        module(x).sum().backward()
    result["fused after"] = time.perf_counter() - begin
    result["fused"] = fused()
print(json.dumps(result))
"""


def run(expression: str, cache: str, threads: int, fuse: str, wait: bool) -> dict:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": os.path.join(cache, "inductor"), "ACTLANG_CACHE_DIR": cache}
    argv = [sys.executable, "-c", CHILD, expression, str(threads), fuse, "wait" if wait else "no"]
    done = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(expression: str, label: str, found: dict) -> str:
    after = f"{found['fused after']:.1f}" if "fused after" in found else "–"
    kernels = ", ".join(found["fused"]) or "none"
    cells = [f"`{expression}`", label, f"{found['import']:.2f}", f"{found['first']:.2f}"]
    cells += [f"{1e3 * found['second']:.1f}", kernels, after]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="An expression that starts with '-' goes after '--': fuse_latency.py -- '-x*sigmoid(x)'",
    )
    parser.add_argument("expressions", nargs="*", default=EXPRESSIONS, help="actlang expressions (default: three)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    header = ["expression", "process", "import torch + actlang (s)", "first step (s)", "second step (ms)"]
    print("| " + " | ".join([*header, "fused kernels", "fused after (s)"]) + " |")
    print("|---|---|---:|---:|---:|---|---:|")
    for expression in args.expressions:
        with tempfile.TemporaryDirectory() as cache:
            print(row(expression, "cold, fuse=True", run(expression, cache, args.threads, "on", False)), flush=True)
            print(row(expression, "warm, auto", run(expression, cache, args.threads, "auto", False)), flush=True)
        with tempfile.TemporaryDirectory() as cache:
            print(row(expression, "cold, auto", run(expression, cache, args.threads, "auto", True)), flush=True)


if __name__ == "__main__":
    main()
