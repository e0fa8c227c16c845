"""AdAct (seed 003) in miniature: the paper's Table 1 on scikit-learn's digits, on a CPU.

1. ConvNet-AdAct: every activation of the paper's 4-conv ConvNet becomes ``adact`` (a learned
   softmax mixture of ReLU, ELU, LeakyReLU, PReLU, RReLU, SiLU, Mish); train; print each layer's
   softmax weights. The data set is 40x smaller than the paper's, so the activations' own
   parameters get a larger learning rate (``--activation-lr``, default 1e-2, no weight decay):
   at 1e-3 the logits move by at most ~0.2 in 230 steps and every layer stays near uniform.
2. ``actlang.collapse`` keeps each layer's heaviest branch: the "ConvNet-Optimized" architecture,
   which is then trained from scratch, like ConvNet-ReLU, with the same seed and schedule.

    .venv/bin/python examples/adact_digits.py            # 10 epochs x 2 seeds (a few minutes)
    .venv/bin/python examples/adact_digits.py --quick    # 2 epochs, 1 seed, narrow net (seconds)
"""

from __future__ import annotations

import argparse
import statistics

import torch
from digits_common import ConvNet, digits, machine, train

import actlang
from actlang.research.mix import ADACT

BRANCHES = [str(a) for a in actlang.parse(ADACT).args]


def run(seed: int, epochs: int, widths: tuple[int, ...], data, activation_lr: float) -> dict:
    torch.manual_seed(seed)
    adact = actlang.replace_activations(ConvNet(widths), "adact")
    result_adact = train(adact, data, epochs, seed, activation_lr=activation_lr)
    weights = {path: adact.get_submodule(path).adact_0.weights().tolist() for path in _activation_paths(adact)}
    report = actlang.collapse(adact)
    chosen = {path: text for path, text in report.replaced.items()}

    torch.manual_seed(seed)
    optimized = actlang.replace_activations(ConvNet(widths), lambda path: chosen[path])
    result_optimized = train(optimized, data, epochs, seed, activation_lr=activation_lr)
    torch.manual_seed(seed)
    result_relu = train(ConvNet(widths), data, epochs, seed)
    return {"weights": weights, "chosen": chosen, "AdAct": result_adact, "ReLU": result_relu,
            "Optimized": result_optimized}


def _activation_paths(model: torch.nn.Module) -> list[str]:
    compiled = (path for path, m in model.named_modules() if isinstance(m, actlang.ActivationModule))
    return [path for path in compiled if "adact_0" not in path]  # not the mixtures' own bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--activation-lr", type=float, default=1e-2,
                        help="learning rate of the mixture logits and PReLU slopes (no weight decay)")
    parser.add_argument("--svg", help="write the per-layer softmax weights (mean over seeds) as an SVG chart")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 1 seed, widths 8-16-32-64")
    args = parser.parse_args()
    epochs, seeds, widths = (2, 1, (8, 16, 32, 64)) if args.quick else (args.epochs, args.seeds, (32, 64, 128, 256))
    torch.set_num_threads(1)  # on a shared 2-core machine, 2 threads oversubscribe (~50x slower)
    data = digits()
    print(f"digits: {len(data[1])} train / {len(data[3])} test images, 16x16; ConvNet widths {widths}; "
          f"{epochs} epochs; seeds 0..{seeds - 1}; activation lr {args.activation_lr:g}; {machine()}")
    runs = []
    for seed in range(seeds):
        result = run(seed, epochs, widths, data, args.activation_lr)
        runs.append(result)
        print(f"\nseed {seed}: softmax weights of each AdAct layer")
        print(f"{'layer':>12} " + " ".join(f"{b.removesuffix('(x)'):>10}" for b in BRANCHES) + "   chosen")
        for path, weights in result["weights"].items():
            print(f"{path:>12} " + " ".join(f"{w:10.3f}" for w in weights) + f"   {result['chosen'][path]}")
    if args.svg:
        from svg_chart import bar_chart

        layers = list(runs[0]["weights"])
        mean = [[statistics.mean(r["weights"][path][i] for r in runs) for i in range(len(BRANCHES))] for path in layers]
        bar_chart(args.svg, f"AdAct softmax weights by layer (digits, mean of {seeds} seeds)",
                  [f"layer {i + 1}" for i in range(len(layers))], [b.removesuffix("(x)") for b in BRANCHES], mean,
                  y_label="softmax(w)")
    print("\ntest accuracy (best epoch / last epoch), mean over seeds; training time per model")
    for name in ("AdAct", "ReLU", "Optimized"):
        best = [r[name].best for r in runs]
        final = [r[name].final for r in runs]
        seconds = statistics.median(r[name].seconds for r in runs)
        spread = f" ± {statistics.stdev(best):.3f}" if len(best) > 1 else ""
        print(f"  ConvNet-{name:<10} {statistics.mean(best):.3f}{spread} / {statistics.mean(final):.3f}   "
              f"{seconds:.0f} s")


if __name__ == "__main__":
    main()
