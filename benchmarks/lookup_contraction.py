"""DiTAC's lookup kernels with and without FMA contraction, side by side in one process.

The package builds them with ``-ffp-contract=fast`` (``actlang.cpab.lookup.FLOATING_POINT_CONTRACT``).
This module is also the maker of the other set: it re-exports the same kernel functions and asks
for no contraction, so its kernel files differ only in that flag (builder processes import it
through ``PYTHONPATH``, which the script sets). Each sample times ``--inner`` calls of every case,
the cases in a random order per sample (a fixed order favoured whichever kernel ran second);
medians and minima over ``--samples``, 1M float32 values, ditac[a=-3, b=3].

    python benchmarks/lookup_contraction.py [--samples 61] [--inner 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's actlang

from actlang.cpab.lookup import kernel_function  # noqa: E402, F401  (the maker this module re-exports)

FLOATING_POINT_CONTRACT = "off"  # read by actlang.kernel_cache.build for kernels this module makes
KERNEL_DEPENDENCIES = ("actlang.cpab.lookup", "actlang.cpab.normal")  # the code its kernels run
SPEC = (-3.0, 3.0, 1, 0.0, False, False)  # ditac[a=-3, b=3]


def kernel_sets() -> dict[str, tuple]:
    """``{"contraction": (forward, backward with weights), "none": (...)}``: actlang's kernels and
    this module's."""
    from actlang import kernels
    from actlang.cpab import lookup_autograd

    package = lookup_autograd.compiled(SPEC)
    plain = tuple(
        kernels.Kernel((f"{Path(__file__).stem}:kernel_function", (kind, *SPEC)), f"lookup_{kind}",
                       f"the lookup {kind} kernel without contraction", like=1 if kind == "forward" else 2,
                       single=kind == "forward")
        for kind in ("forward", "backward_weights")
    )  # fmt: skip
    return {"contraction": (package[0], package[2]), "none": plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=61)
    parser.add_argument("--inner", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    import torch

    from actlang.cpab import lookup

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tables = lookup.pack(torch.randn(2050) * 0.01, 1 + torch.randn(2050) * 0.01)
    x, g = torch.randn(1_000_000) * 2, torch.randn(1_000_000)
    cases: dict[str, Callable[[], object]] = {}
    for name, (forward, backward) in kernel_sets().items():
        forward(x, tables, wait=True)  # built now if missing
        backward(g, x, tables, wait=True)
        assert forward.loaded((x, tables)) is not None and backward.loaded((g, x, tables)) is not None
        cases[f"forward, {name}"] = lambda f=forward: f(x, tables)
        cases[f"backward, {name}"] = lambda b=backward: b(g, x, tables)
    difference = (cases["forward, contraction"]() - cases["forward, none"]()).abs().max().item()
    from compiler_bench import per_call_times, print_times  # here: builder processes import this module for its maker

    times = per_call_times(cases, args.samples, args.inner)
    print(f"1,000,000 float32 values, {args.threads} threads, torch {torch.__version__}, "
          f"{args.samples} samples of {args.inner} calls, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print_times(times)
    print(f"\nlargest forward difference: {difference:.3g}")


if __name__ == "__main__":
    main()
