"""First-call latency of the fused (TorchInductor) kernels, in fresh processes.

For each expression: a ``cold`` process (an empty inductor cache directory) and then a ``warm``
one (the same directory: inductor's on-disk FX graph and AOTAutograd caches), each timing
``import actlang``, ``compile``, and the first training step (forward + backward, 1M float32
values, ``fuse=True``: what builds and loads the kernels), then a second step. Prints a markdown
table.

    python benchmarks/fuse_latency.py [--threads 2] [EXPR ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

EXPRESSIONS = ["-x*sigmoid(x)*hard_sigmoid(x)", "x*sigmoid(beta*x) where beta = 1.5"]

CHILD = """
import json, sys, time
start = time.perf_counter()
import torch
torch.set_num_threads(int(sys.argv[2]))
import actlang
imported = time.perf_counter()
module = actlang.compile(sys.argv[1], fuse=True)
x = torch.randn(1 << 20, requires_grad=True)
begin = time.perf_counter()
module(x).sum().backward()
first = time.perf_counter()
module(x).sum().backward()
second = time.perf_counter()
print(json.dumps({"import": imported - start, "first": first - begin, "second": second - first}))
"""


def run(expression: str, cache: str, threads: int) -> dict[str, float]:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
    done = subprocess.run([sys.executable, "-c", CHILD, expression, str(threads)], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("expressions", nargs="*", default=EXPRESSIONS)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print("| expression | process | import actlang + torch (s) | first step (s) | second step (ms) |")
    print("|---|---|---:|---:|---:|")
    for expression in args.expressions:
        with tempfile.TemporaryDirectory() as cache:
            for label in ("cold", "warm"):
                found = run(expression, cache, args.threads)
                print(f"| `{expression}` | {label} | {found['import']:.2f} | {found['first']:.2f} | "
                      f"{1e3 * found['second']:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
