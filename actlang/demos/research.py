"""Demo section: ASH's per-sample thresholds, AdAct's mixture, and activations in a model."""

from __future__ import annotations

from typing import TextIO

import numpy as np

import actlang

TITLE = "ASH and AdAct: per-sample thresholds, mixtures, models"
ORDER = 50


def run(out: TextIO) -> None:
    import torch
    from torch import nn

    batch = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0], [10.0, 11.0, 12.0, 13.0, 14.0]])
    print("ash[k=10](x) keeps about the top 10 % of each sample's feature map (float64 reference):", file=out)
    for row, values in zip(batch, actlang.evaluate("ash[k=10](x)", batch), strict=True):
        print("  x = [" + ", ".join(f"{v:5.1f}" for v in row) + "] -> [" + ", ".join(f"{v:6.3f}" for v in values) + "]",
              file=out)
    try:
        actlang.evaluate("ash(x)", batch[0])
    except actlang.ActlangError as error:
        print(f"  a rank-1 input is an error: {error}", file=out)

    torch.manual_seed(0)
    act = actlang.compile("adact")
    with torch.no_grad():
        act.adact_0.body.mix_0.w.copy_(torch.tensor([0.1, 0.4, 0.0, 0.2, -0.5, 0.3, 1.2]))
    names = [str(a) for a in actlang.parse(act.adact_0.body.expression).args]
    weights = ", ".join(f"{n.removesuffix('(x)')} {w:.2f}" for n, w in zip(names, act.adact_0.weights(), strict=True))
    print(f"\nadact = {act.adact_0.body.expression}\n  softmax weights: {weights}", file=out)
    print(f"  dominant(): {actlang.dominant(act)}", file=out)

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 2))
    actlang.replace_activations(model, lambda path: {"1": "adact", "3": "ash[k=20](x) + 0.1*x"}[path])
    with torch.no_grad():
        model[1].adact_0.body.mix_0.w.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0]))
    print("\nreplace_activations swapped the ReLU and the GELU of a small MLP:", file=out)
    for index in (1, 3):
        print(f"  [{index}] {model[index].expression}", file=out)
    report = actlang.collapse(model)
    print("collapse keeps each mixture's heaviest branch (the paper's 'optimized' network):", file=out)
    for choice in report.choices:
        chosen = choice.chosen
        print(f"  {choice.path}: {choice.branches[chosen]} (weight {choice.weights[chosen]:.2f})", file=out)
    print(f"  [1] is now {model[1].expression}", file=out)
