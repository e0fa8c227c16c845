"""``actlang plot EXPR -o FILE``: draw the function and its derivative (and v^θ, T^θ of CPAB sites)."""

from __future__ import annotations

import argparse
import json

import numpy as np

from actlang.errors import ActlangError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw an activation and its derivative (CPAB primitives: also v^θ and T^θ)",
        description="Draw EXPR (float64 reference) and its derivative (symbolic where it exists, else autograd "
        "through the compiled module) on [A, B]. For CPAB primitives (cpab, ditac, ge_ditac, l_ditac, inf_ditac) "
        "each site adds its velocity field v^θ and its warp T^θ on [a, b]. NaN regions are shaded grey, ±inf red.",
        epilog="examples:\n"
        "  actlang plot 'x * sigmoid(beta * x)' --param beta=2 -o swish.png\n"
        "  actlang plot 'ditac[cells=8](x)' --prior --seed 3 -o ditac.svg\n"
        "  actlang plot 'ditac[cells=8](x)' --state trained.pt -o trained.pdf",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("expr", metavar="EXPR", help="activation text")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="image file: .png, .svg or .pdf")
    parser.add_argument("--range", nargs=2, type=float, default=(-5.0, 5.0), metavar=("A", "B"),
                        help="the interval of x (default -5 5)")
    parser.add_argument("--points", type=int, default=1001, metavar="N", help="points on the interval (default 1001)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="set a learned parameter (repeatable); a tensor is filled with VALUE")
    parser.add_argument("--prior", action="store_true", help="draw CPAB θ from the smoothness prior (init=prior)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed for initial values (default 0)")
    parser.add_argument("--state", metavar="FILE", help="load parameters: torch.save(module.state_dict(), FILE)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(run=run)


def parse_assignments(items: list[str]) -> dict[str, float]:
    """``["beta=2", "prelu_0.a=0.1"]`` -> ``{"beta": 2.0, "prelu_0.a": 0.1}``."""
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            values[name.strip()] = float(text)
        except ValueError:
            raise ActlangError(f"--param expects NAME=VALUE with a number, got '{item}'") from None
    return values


def run(args: argparse.Namespace) -> int:
    from actlang.plot import plot

    lo, hi = args.range
    data = plot(
        args.expr, args.output, lo=lo, hi=hi, points=args.points, params=parse_assignments(args.param),
        seed=args.seed, prior=args.prior, state=args.state,
    )
    if args.json:
        summary = {
            "expression": data.expression,
            "output": args.output,
            "range": [lo, hi],
            "points": args.points,
            "derivative": data.slope_method,
            "derivative_expression": data.slope_expression,
            "nonfinite": {
                "function": int((~np.isfinite(data.values)).sum()),
                "derivative": int((~np.isfinite(data.slope)).sum()),
            },
            "sites": [site.site for site in data.sites],
            "parameters": {name: value.tolist() for name, value in data.params.items()},
        }
        print(json.dumps(summary, indent=2))
    else:
        sites = f"; v^θ and T^θ of {', '.join(s.site for s in data.sites)}" if data.sites else ""
        print(f"wrote {args.output} ({data.expression}; derivative: {data.slope_method}{sites})")
    return 0

