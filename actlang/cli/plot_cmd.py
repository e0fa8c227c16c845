"""``actlang plot EXPR [EXPR ...] -o FILE``: draw activations and their derivatives on one figure (and
v^θ, T^θ of CPAB sites)."""

from __future__ import annotations

import argparse
import json

from actlang.errors import ActlangError

HELP = "draw activations and their derivatives on one figure (CPAB primitives: also v^θ and T^θ)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help=HELP,
        description="Draw each EXPR (float64 reference) and its derivative (symbolic where it exists, else "
        "autograd through the compiled module) on [A, B], all on one figure. For CPAB primitives (cpab, ditac, "
        "ge_ditac, l_ditac, inf_ditac) each site adds its velocity field v^θ and its warp T^θ on its domain "
        "[a, b]. Per-sample primitives (ash) are drawn on one feature map of N(0, 1) inputs. NaN regions are "
        "shaded, ±inf runs hatched; a pole does not set the y-range.",
        epilog="examples:\n"
        "  actlang plot 'relu(x)' 'gelu(x)' 'ditac(x)' -o three.png\n"
        "  actlang plot 'x * sigmoid(beta * x)' --param beta=2 -o swish.png\n"
        "  actlang plot 'ditac[cells=8](x)' --prior --seed 3 -o ditac.svg\n"
        "  actlang plot 'ditac[cells=8](x)' --state trained.pt -o trained.pdf\n"
        "  actlang plot 'x * sigmoid(beta * x)' --state model.pt --site layer3.act -o layer3.png\n"
        "  actlang plot 'ash[k=10](x)' -o ash.png\n\n"
        "An expression may start with '-' (actlang plot '-x*sigmoid(x)' -o f.png); after '--' every argument\n"
        "is read as one, never as an option: actlang plot -o f.png -- -x",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("exprs", nargs="+", metavar="EXPR", help="activation text; several share the figure")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="image file: .png, .svg or .pdf")
    parser.add_argument("--range", nargs=2, type=float, default=(-5.0, 5.0), metavar=("A", "B"),
                        help="the interval of x (default -5 5)")
    parser.add_argument("--points", type=int, default=1001, metavar="N",
                        help="points on the interval (default 1001)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="set a learned parameter of every EXPR that has it (repeatable); a tensor is filled "
                        "with VALUE")
    parser.add_argument("--prior", action="store_true", help="draw CPAB θ from the smoothness prior (init=prior)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="random seed for initial values and per-sample inputs (default 0)")
    parser.add_argument("--state", metavar="FILE",
                        help="load parameters: torch.save(module.state_dict(), FILE), or a whole model's with --site; "
                        "per-channel values (channels=C) give one curve per channel")
    parser.add_argument("--site", metavar="PATH", help="the activation's path in a model's state dict, e.g. layer3.act")
    parser.add_argument("--channel", type=int, action="append", metavar="I",
                        help="draw channel I of per-channel parameters (repeatable; default: all, ≤ 10)")
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
    curves = plot(
        args.exprs, args.output, lo=lo, hi=hi, points=args.points, params=parse_assignments(args.param),
        seed=args.seed, prior=args.prior, state=args.state, site=args.site, channels=args.channel,
    )
    if args.json:
        summary = {"output": args.output, "range": [lo, hi], "points": args.points,
                   "curves": [_summary(curve) for curve in curves]}
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {args.output}" + ("" if len(curves) == 1 else f" ({len(curves)} curves)"))
        for curve in curves:
            sites = f"; v^θ and T^θ of {', '.join(s.site for s in curve.sites)}" if curve.sites else ""
            channel = f"channel {curve.channel}: " if curve.channel is not None else ""
            print(f"  {channel}{curve.label}; derivative: {curve.slope_method}{sites}")
    return 0


def _summary(curve) -> dict:
    """One curve's JSON: what was drawn, how f′ was computed, non-finite counts, parameter values."""
    import numpy as np

    return {
        "expression": curve.expression,
        "label": curve.label,
        "channel": curve.channel,
        "sample": curve.sample,
        "derivative": curve.slope_method,
        "derivative_expression": curve.slope_expression,
        "nonfinite": {
            "function": int((~np.isfinite(curve.values)).sum()),
            "derivative": int((~np.isfinite(curve.slope)).sum()),
        },
        "sites": [site.site for site in curve.sites],
        "parameters": {name: value.tolist() for name, value in curve.params.items()},
    }
