"""Compiled activations vs eager PyTorch: time and saved-for-backward memory on 4M float32 values.

For each expression, in one run and interleaved repeat by repeat (medians of ``--repeats``):

- ``default``: ``actlang.compile(e)`` (``fuse="auto"``: TorchInductor kernels where the cost model
  prices them below the unfused path; in brackets what it chose);
- ``fused``: ``actlang.compile(e, fuse=True)`` (inductor kernels whatever the cost model says);
- ``unfused``: ``actlang.compile(e, fuse=False)`` (the unfused memory-efficient path);
- ``compiled+tc``: the unfused module under ``torch.compile(fullgraph=True)``;
- ``eager``: the composition written as separate torch calls (what a user would type);
- ``eager+tc``: ``torch.compile`` of that composition;
- ``F.relu``: one native kernel, the memory-bandwidth floor (and ``F.silu`` for ``x*sigmoid(x)``).

Forward is timed under ``no_grad``; forward+backward with ``x.requires_grad`` and ``y.backward(g)``.
Saved bytes are counted with ``saved_tensors_hooks`` (distinct storages, the input included) and
reported in units of the input's size. Also: compile latency, cold and cached, and the one-time
cost of building the fused function (symbolic derivative). ``--contention`` runs one other busy
process (a Python loop on one core) during the measurements. Prints a markdown table.

    python benchmarks/compiler_bench.py [--repeats 9] [--size 4194304] [--threads N] [--quick] [--contention]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F

import actlang
from actlang import kernel_builder, parser
from actlang.compiler import chain, program
from actlang.compiler import fused as fused_module

EAGER: dict[str, Callable[..., torch.Tensor]] = {
    "erfc(softplus(x))^2": lambda x: torch.special.erfc(F.softplus(x)) ** 2,
    "-x*sigmoid(x)*hard_sigmoid(x)": lambda x: -x * torch.sigmoid(x) * torch.clamp(0.2 * x + 0.5, 0.0, 1.0),
    "asinh(elu(silu(x)))": lambda x: torch.asinh(F.elu(F.silu(x))),
    "x*sigmoid(x)": lambda x: x * torch.sigmoid(x),
    "min(softplus(x)^2, -x)": lambda x: torch.minimum(F.softplus(x) ** 2, -x),
}
# With learned scalars: the eager version takes them as extra arguments.
LEARNED: dict[str, tuple[Callable[..., torch.Tensor], dict[str, float]]] = {
    "x*sigmoid(beta*x) where beta = 1.5": (lambda x, beta: x * torch.sigmoid(beta * x), {"beta": 1.5}),
    "alpha*erfc(softplus(beta*x))^2 where beta = 1.5": (
        lambda x, alpha, beta: alpha * torch.special.erfc(F.softplus(beta * x)) ** 2,
        {"alpha": 1.0, "beta": 1.5},
    ),
}
LATENCY = [*EAGER, *LEARNED, "ditac[a=-3, b=3, cells=16](x)", "ash[k=10](x)", "mix(relu, elu, silu)", "prelu(x)"]


def saved_bytes(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> int:
    """Bytes of distinct storages autograd keeps for backward (the input counts if saved)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = fn(x)
    del y
    return sum(seen.values())


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def variants(text: str) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The callables compared for one expression, all taking x."""
    if text in EAGER:
        eager = EAGER[text]
        module = actlang.compile(text, fuse=False)
        params: list[torch.nn.Parameter] = []
    else:
        raw, inits = LEARNED[text]
        module = actlang.compile(text, fuse=False)
        params = [getattr(module, name) for name in inits]

        def eager(x: torch.Tensor, raw=raw, params=params) -> torch.Tensor:
            return raw(x, *params)

    found = {
        "default": actlang.compile(text),
        "fused": actlang.compile(text, fuse=True),
        "unfused": module,
        "compiled+tc": torch.compile(module, fullgraph=True),
        "eager": eager,
        "eager+tc": torch.compile(eager, fullgraph=True),
        "F.relu": F.relu,
    }
    if text == "x*sigmoid(x)":
        found["F.silu"] = F.silu
    return found


def choices(text: str) -> dict[str, str]:
    """What the default, fused and unfused modules run for training (the cost models' picks)."""
    from actlang.compiler import inductor

    program_ = actlang.compile(text).program
    unfused = program_.fused()
    plan = inductor.plan(program_)
    labels = {"unfused": unfused.label} if unfused is not None else {}
    if plan is not None:
        labels["fused"] = f"inductor {plan.strategy}"
        labels["default"] = labels["fused"] if plan.train else f"unfused {labels['unfused']}"
    return labels


def busy() -> subprocess.Popen:
    """One other process keeping one core busy (ended by the caller)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def shuffled(names: list[str], rounds: int, seed: int = 0) -> list[list[str]]:
    """``rounds`` orders of ``names``, each shuffled (seeded): with one fixed order, whichever case
    ran second of a pair measured faster on this VM, by as much as the differences measured."""
    rng = random.Random(seed)
    return [rng.sample(names, len(names)) for _ in range(rounds)]


def per_call_times(cases: dict[str, Callable[[], object]], samples: int, inner: int) -> dict[str, list[float]]:
    """Seconds per call of each case, one entry per sample: ``inner`` calls per case, each sample
    in its own order (:func:`shuffled`)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for order in shuffled(list(cases), samples):
        for name in order:
            start = time.perf_counter()
            for _ in range(inner):
                cases[name]()
            times[name].append((time.perf_counter() - start) / inner)
    return times


def print_times(times: dict[str, list[float]]) -> None:
    """:func:`per_call_times`'s result as a markdown table: median and minimum per case, in ms."""
    print("\n| case | median ms | min ms |\n|---|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values) * 1e3:.3f} | {min(values) * 1e3:.3f} |")


def measure(text: str, size: int, repeats: int) -> dict[str, dict[str, float]]:
    torch.manual_seed(0)
    x = torch.randn(size)
    g = torch.randn(size)
    fns = variants(text)
    xg = x.clone().requires_grad_()

    def forward(fn):
        with torch.no_grad():
            fn(x)

    def train(fn):
        xg.grad = None
        fn(xg).backward(g)

    for _ in range(2):  # warm-up: torch.compile compiles here, the fused function is built here
        for fn in fns.values():
            forward(fn)
            train(fn)
        kernel_builder.wait()  # the default module's kernels, built in the background
    fwd: dict[str, list[float]] = {k: [] for k in fns}
    both: dict[str, list[float]] = {k: [] for k in fns}
    for order in shuffled(list(fns), repeats):  # interleaved: other processes' noise hits every variant alike
        for name in order:
            fn = fns[name]
            fwd[name].append(timed(lambda fn=fn: forward(fn)))
            both[name].append(timed(lambda fn=fn: train(fn)))
    result = {}
    for name, fn in fns.items():
        result[name] = {
            "fwd": statistics.median(fwd[name]),
            "fwdbwd": statistics.median(both[name]),
            "saved": saved_bytes(fn, xg) / (x.numel() * x.element_size()),
        }
    return result


def latency(repeats: int = 7) -> list[tuple[str, float, float, float]]:
    """(text, cold compile ms, cached compile ms, fused build ms) medians; cold clears the caches."""
    rows = []
    actlang.compile("x")  # imports
    for text in LATENCY:
        cold, warm, fused = [], [], []
        for _ in range(repeats):
            program._program.cache_clear()  # cold: parse, rewrite, generate, exec, build the class
            parser._parse_cached.cache_clear()
            cold.append(timed(lambda text=text: actlang.compile(text)))
            warm.append(timed(lambda text=text: actlang.compile(text)))
        module = actlang.compile(text)
        fused_module._symbolic_one.cache_clear()  # cold: sympy derivatives and local derivatives too
        chain._local_form.cache_clear()
        fused.append(timed(lambda module=module: module.program.fused()))
        rows.append((text, 1e3 * statistics.median(cold), 1e3 * statistics.median(warm), 1e3 * fused[0]))
    return rows


KERNELS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], object]] = {
    "mul": lambda x, y, out: torch.mul(x, y, out=out),
    "neg": lambda x, y, out: torch.neg(x, out=out),
    "where": lambda x, y, out: torch.where(y > 0, x, y, out=out),
    "isnan": lambda x, y, out: torch.isnan(x),
    "exp": lambda x, y, out: torch.exp(x, out=out),
    "expm1": lambda x, y, out: torch.expm1(x, out=out),
    "log1p": lambda x, y, out: torch.log1p(x.abs(), out=out),
    "sqrt": lambda x, y, out: torch.sqrt(x.abs(), out=out),
    "sigmoid": lambda x, y, out: torch.sigmoid(x, out=out),
    "tanh": lambda x, y, out: torch.tanh(x, out=out),
    "erfc": lambda x, y, out: torch.special.erfc(x, out=out),
    "softplus": lambda x, y, out: F.softplus(x),
    "elu": lambda x, y, out: F.elu(x),
    "asinh": lambda x, y, out: torch.asinh(x, out=out),
    "silu_backward": lambda x, y, out: torch.ops.aten.silu_backward(y, x),
    "elu_backward": lambda x, y, out: torch.ops.aten.elu_backward(y, 1.0, 1.0, 1.0, False, x),
}


def kernels(size: int, repeats: int) -> None:
    """Each kernel's median time over a multiply's (interleaved), beside the cost model's weight."""
    from actlang.compiler import cost

    x, y, out = torch.randn(size), torch.randn(size), torch.empty(size)
    times: dict[str, list[float]] = {k: [] for k in KERNELS}
    for fn in KERNELS.values():
        fn(x, y, out)
    for _ in range(repeats):
        for name, fn in KERNELS.items():
            times[name].append(timed(lambda fn=fn: fn(x, y, out)))
    unit = statistics.median(times["mul"])
    print("| kernel | ms | measured / mul | model weight |\n|---|---:|---:|---:|")
    for name in KERNELS:
        weight = 1.0 if name == "mul" else cost.WEIGHTS.get(name, 1.0)
        median = statistics.median(times[name])
        print(f"| {name} | {1e3 * median:.2f} | {median / unit:.2f} | {weight:.1f} |")
    empty = statistics.median([timed(lambda: torch.empty(size).fill_(0.0)) for _ in range(repeats)])
    print(f"\nfresh allocation + first touch: {empty / unit:.2f} of a multiply (model: {cost.ALLOCATION})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--size", type=int, default=4 * 1024 * 1024)
    parser.add_argument("--quick", action="store_true", help="two expressions, 3 repeats")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    parser.add_argument("--kernels", action="store_true", help="only: kernel times against the cost model's weights")
    parser.add_argument("--contention", action="store_true", help="one other busy process during the run")
    parser.add_argument("--only", action="append", help="this expression only (repeatable; --only=EXPR)")
    parser.add_argument("--no-latency", action="store_true", help="skip the compile-latency table")
    args = parser.parse_args()
    other = busy() if args.contention else None
    try:
        run(args)
    finally:
        if other is not None:
            other.kill()
            other.wait()


def _selected(texts: list[str], wanted: list[str]) -> list[str]:
    """The benchmark expressions named in ``wanted`` (a learned one with or without its ``where``
    clause); an unknown name is an error that lists the known ones."""
    short = {t: t.split(" where ")[0] for t in texts}
    unknown = [w for w in wanted if w not in short and w not in short.values()]
    if unknown:
        raise SystemExit(f"--only: unknown expression(s) {unknown}; known: {list(short.values())}")
    return [t for t in texts if t in wanted or short[t] in wanted]


def run(args: argparse.Namespace) -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    if args.kernels:
        kernels(args.size, args.repeats)
        return
    texts = [*EAGER, *LEARNED]
    if args.quick:
        texts, args.repeats = texts[:1] + texts[-1:], 3
    if args.only:
        texts = _selected(texts, args.only)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size} float32 values, "
          f"median of {args.repeats}{', one other busy process' if args.contention else ''}\n")  # fmt: skip
    print("| expression | variant | fwd ms | fwd+bwd ms | fwd+bwd / eager | fwd+bwd / eager+tc | "
          "fwd+bwd / F.relu | saved (× input) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for text in texts:
        result = measure(text, args.size, args.repeats)
        eager, eager_tc, relu = (result[k]["fwdbwd"] for k in ("eager", "eager+tc", "F.relu"))
        labels = choices(text)
        for name, r in result.items():
            label = f"{name} ({labels[name]})" if name in labels else name
            print(f"| `{text}` | {label} | {1e3 * r['fwd']:.1f} | {1e3 * r['fwdbwd']:.1f} | "
                  f"{r['fwdbwd'] / eager:.2f} | {r['fwdbwd'] / eager_tc:.2f} | {r['fwdbwd'] / relu:.2f} | "
                  f"{r['saved']:.1f} |", flush=True)  # fmt: skip
    if args.no_latency:
        return
    print("\n| expression | compile, cold (ms) | compile, cached (ms) | fused function, first build (ms) |")
    print("|---|---:|---:|---:|")
    for text, cold, warm, fused in latency():
        print(f"| `{text}` | {cold:.2f} | {warm:.3f} | {fused:.0f} |")


if __name__ == "__main__":
    main()
