"""DiTAC's 1-D toy regression (supplement, Table 8) on CPU: fit
``0.4 sin(19x) + 0.2 sin(23x) + 0.3 sin(29x) + 0.1 sin(31x)`` on [-1, 1] with a one-hidden-layer
MLP of 64 units, once per activation, and report test MSE and R².

    python examples/ditac_regression.py [--steps 15000] [--seeds 1] [--activations ditac,relu,...]
        [--markdown docs/ditac_regression.md]

Every activation is an actlang expression compiled with ``actlang.compile``; DiTAC is
``ditac`` (a = −3, b = 3, 10 cells, one θ shared by the layer, as in the paper's regression
example). Adam, batch 98, no weight decay; each activation takes the best of a few learning
rates on the validation split (the supplement does the same), and the table reports test R².
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import torch
from torch import nn

import actlang

ACTIVATIONS = {
    "ditac": "ditac(x)",
    "relu": "relu(x)",
    "leaky_relu": "leaky_relu(x)",
    "gelu": "gelu(x)",
    "elu": "elu(x)",
    "softplus": "softplus(x)",
    "mish": "mish(x)",
    "silu": "silu(x)",
    "prelu": "prelu(x)",
}
LEARNING_RATES = (1e-3, 3e-3, 1e-2)


def target(x: torch.Tensor) -> torch.Tensor:
    return 0.4 * torch.sin(19 * x) + 0.2 * torch.sin(23 * x) + 0.3 * torch.sin(29 * x) + 0.1 * torch.sin(31 * x)


def data(seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    splits = {"train": 2000, "validation": 500, "test": 1000}
    out = {}
    for name, count in splits.items():
        x = torch.rand(count, 1, generator=generator) * 2 - 1
        out[name] = (x, target(x))
    return out


def r2(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    with torch.no_grad():
        mse = (model(x) - y).pow(2).mean().item()
    return mse, 1.0 - mse / y.var(unbiased=False).item()


def train(spec: str, lr: float, steps: int, seed: int, splits) -> nn.Module:
    """The MLP 1→64→1 with activation ``spec``, trained with Adam (batch 98) for ``steps``."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = nn.Sequential(nn.Linear(1, 64), actlang.compile(spec), nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = splits["train"]
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randint(0, len(x), (98,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss = (model(x[batch]) - y[batch]).pow(2).mean()
        loss.backward()
        optimizer.step()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15000)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--activations", default=",".join(ACTIVATIONS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lrs", default=",".join(map(str, LEARNING_RATES)), help="learning rates to pick from")
    parser.add_argument("--markdown", help="also write the results table to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.activations.split(","):
        spec = ACTIVATIONS.get(name, name)
        scores, start = [], time.perf_counter()
        for seed in range(args.seeds):
            splits = data(seed)
            best = max(
                (train(spec, float(lr), args.steps, seed, splits) for lr in args.lrs.split(",")),
                key=lambda model: r2(model, *splits["validation"])[1],
            )
            scores.append(r2(best, *splits["test"]))
        mse = sum(s[0] for s in scores) / len(scores)
        score = sum(s[1] for s in scores) / len(scores)
        params = sum(p.numel() for p in best.parameters())
        seconds = time.perf_counter() - start
        rows.append((name, params, mse, score, seconds))
        print(f"{name:12s} params {params:4d}  MSE {mse:.5f}  R² {100 * score:6.2f}  ({seconds:.0f} s)", flush=True)
    table = ["| activation | parameters | test MSE | test R² (%) |", "|---|---:|---:|---:|"]
    table += [f"| {n} | {p} | {m:.5f} | {100 * s:.2f} |" for n, p, m, s, _ in sorted(rows, key=lambda r: -r[3])]
    print("\n" + "\n".join(table))
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write("\n".join(table) + "\n")
    assert all(math.isfinite(r[3]) for r in rows)


if __name__ == "__main__":
    main()
