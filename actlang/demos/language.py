"""Demo section: parse, format, evaluate and list activations from the papers."""

from __future__ import annotations

from typing import TextIO

import numpy as np

import actlang
from actlang.registry import lookup

TITLE = "The language: parse, format, evaluate"
ORDER = 10

# AQuaSurF's own spelling (seed 002): prefix calls, its operator names.
AQUASURF = [
    "add(relu(x),swish(x))",
    "min(square(x),selu(x))",
    "square(erfc(softplus(x)))",
    "prod_n(sigmoid(x),negative(x),hard_sigmoid(x))",
]
# Activations in actlang's infix syntax, from the papers; skipped when a primitive is missing.
PAPERS = [
    ("AQuaSurF's best function", "erfc(softplus(x))^2"),
    ("Swish with a learned beta", "x * sigmoid(beta * x) where beta = 1.5"),
    ("GELU, tanh approximation", "gelu[approximate=tanh](x)"),
    ("PReLU (learned slope)", "prelu"),
    ("AdAct's mixture (seed 003)", "mix(relu, elu, leaky_relu, prelu, rrelu, silu, mish)"),
    ("ASH keeping 10% (seed 001)", "ash(x, k=10)"),
    ("DiTAC, 16 cells (seed 000)", "ditac[a=-3, b=3, cells=16](x)"),
]
POINTS = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])


def run(out: TextIO) -> None:
    print("AQuaSurF strings parse as they are and print in canonical infix form:", file=out)
    for text in AQUASURF:
        expr = actlang.parse(text)
        print(f"  {text:<48} -> {actlang.format(expr)}", file=out)
        assert actlang.format(expr, style="aquasurf") == text  # and print back exactly
    print("\nActivations from the papers, with learned parameters and hyperparameters:", file=out)
    shown = []
    for what, text in PAPERS:
        try:
            expr = actlang.parse(text)
        except actlang.UnknownNameError:
            continue  # a primitive this build does not have yet
        shown.append((what, expr))
        learned = ", ".join(f"{k}={v:g}" for k, v in actlang.ast.params(expr).items())
        print(f"  {what:<28} {actlang.format(expr)}" + (f"   [learned: {learned}]" if learned else ""), file=out)
    print("\nReference values (float64 numpy, no torch) at x = " + ", ".join(f"{p:g}" for p in POINTS) + ":", file=out)
    for what, expr in shown:
        if all(lookup(n.name).pointwise for n in actlang.ast.walk(expr) if isinstance(n, actlang.Call)):
            try:
                values = actlang.evaluate(expr, POINTS)
            except actlang.ActlangError:
                continue
            print(f"  {what:<28} " + "  ".join(f"{v:8.4f}" for v in values), file=out)
    print("\nMistakes are reported with a caret under the fault:", file=out)
    try:
        actlang.parse("erfc(sofplus(x))^2")
    except actlang.ActlangError as error:
        print("  " + f"{type(error).__name__}: {error}".replace("\n", "\n  "), file=out)
    names = [p.name for p in actlang.primitives()]
    print(f"\n{len(names)} primitives (`actlang list` prints the table): {', '.join(names[:12])}, ...", file=out)
