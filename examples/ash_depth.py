"""ASH (seed 001) in a small CNN: do the learned thresholds differ by depth (the paper's Property 1)?

Every activation of a 4-conv CNN on scikit-learn's digits becomes ``ash[k=50](x)`` (z starts at 0
in every layer: a threshold at the feature map's mean, half the inputs kept). After training,
print each layer's learned z, the share of inputs a standard normal map would keep,
100·(1 − Φ(z)), and the share the layer actually keeps on the test set (x > μ + z·σ), averaged
over seeds; ReLU and plain-ASH accuracy for context.

    .venv/bin/python examples/ash_depth.py          # 10 epochs x 3 seeds (a few minutes)
    .venv/bin/python examples/ash_depth.py --quick  # 2 epochs, 1 seed (seconds)
"""

from __future__ import annotations

import argparse
import statistics

import torch
from digits_common import ConvNet, digits, machine, train
from scipy import special

import actlang


def kept_share(model: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Per ASH layer: the fraction of its inputs above its threshold μ + z·σ, on ``x``."""
    shares: dict[str, float] = {}
    hooks = []
    for path, module in model.named_modules():
        if isinstance(module, actlang.ActivationModule):

            def hook(module, inputs, output, path=path):
                (value,) = inputs
                shares[path] = float((value > module.ash_0.threshold(value)).float().mean())

            hooks.append(module.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(x)
    for handle in hooks:
        handle.remove()
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--k", type=float, default=50.0, help="initial percentage kept (z = Φ⁻¹(1 − k/100))")
    parser.add_argument("--activation-lr", type=float, default=1e-2)
    parser.add_argument("--svg", help="write the learned z by depth (mean ± sd over seeds) as an SVG chart")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    epochs, seeds = (2, 1) if args.quick else (args.epochs, args.seeds)
    widths = (16, 32, 64, 128)
    torch.set_num_threads(1)  # on a shared 2-core machine, 2 threads oversubscribe
    data = digits()
    spec = f"ash[k={args.k:g}](x)"
    print(f"{spec} in a {len(widths)}-conv CNN {widths} on digits; {epochs} epochs; seeds 0..{seeds - 1}; "
          f"activation lr {args.activation_lr:g}; {machine()}")
    z_by_layer: dict[str, list[float]] = {}
    alpha_by_layer: dict[str, list[float]] = {}
    kept_by_layer: dict[str, list[float]] = {}
    accuracy = {"ASH": [], "ReLU": []}
    for seed in range(seeds):
        torch.manual_seed(seed)
        model = actlang.replace_activations(ConvNet(widths), spec)
        accuracy["ASH"].append(train(model, data, epochs, seed, activation_lr=args.activation_lr).best)
        for path, share in kept_share(model, data[2]).items():
            site = model.get_submodule(path).ash_0
            z_by_layer.setdefault(path, []).append(site.z.item())
            alpha_by_layer.setdefault(path, []).append(site.alpha.item())
            kept_by_layer.setdefault(path, []).append(share)
        torch.manual_seed(seed)
        accuracy["ReLU"].append(train(ConvNet(widths), data, epochs, seed).best)
    print(f"\n{'layer':>12} {'depth':>5} {'z (mean ± sd)':>16} {'alpha':>7} {'100(1-Φ(z))':>12} {'kept on test':>13}")
    for depth, (path, zs) in enumerate(z_by_layer.items(), start=1):
        z = statistics.mean(zs)
        spread = statistics.stdev(zs) if len(zs) > 1 else 0.0
        alpha, kept = statistics.mean(alpha_by_layer[path]), 100 * statistics.mean(kept_by_layer[path])
        print(f"{path:>12} {depth:>5} {z:>9.3f} ± {spread:.3f} {alpha:>7.3f} "
              f"{100 * (1 - special.ndtr(z)):>11.1f}% {kept:>12.1f}%")
    if args.svg:
        from svg_chart import bar_chart

        zs = list(z_by_layer.values())
        bar_chart(args.svg, f"ASH: learned z by depth ({spec}, digits, {seeds} seeds)",
                  [f"layer {i + 1}" for i in range(len(zs))], ["z"], [[statistics.mean(z)] for z in zs],
                  y_label="z (threshold in std devs above the mean)",
                  errors=[[statistics.stdev(z) if len(z) > 1 else 0.0] for z in zs])
    for name, values in accuracy.items():
        print(f"best test accuracy, {name:<4}: {statistics.mean(values):.3f}")


if __name__ == "__main__":
    main()
