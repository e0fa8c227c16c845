"""Hostile inputs for the public entry points: generated names, hyperparameters and shapes.

Not the grammar's alphabet (``tests/test_fuzz.py`` does that) but what a user or an adversary
may write that the grammar accepts: learned-scalar names that are Python keywords, builtins,
dunder names, ``nn.Module`` attributes or the compiler's own identifiers; hyperparameters that
are huge, tiny, denormal, signed zeros or out of range; nesting near the depth limit; variadic
calls with hundreds of arguments; stateful primitives applied to something other than x; DiTAC
priors at extreme scales. :func:`case` turns a seed into one input, so a hypothesis test and
``benchmarks/hostile_inputs.py`` draw from the same distribution.
"""

from __future__ import annotations

import builtins
import keyword
import random
from dataclasses import dataclass

from torch import nn

from actlang.registry import REQUIRED, primitives

NAMES = sorted(
    {
        *keyword.kwlist,
        *keyword.softkwlist,
        "self",
        "cls",
        "torch",
        "F",
        "math",
        "kernels",
        "np",
        "x_ref",
        "ctx",
        "g",
        "s",
        "n",
        "g_x",
        "g_1",
        "t0",
        "t1",
        "p_a",
        "q_prelu_0_a",
        "a_b",
        "cshape",
        "recompute",
        "Fused",
        "_dot",
        "_regrad",
        "_ref",
        "prelu_0",
        "ditac_0",
        "prelu_0_a",
        "mix_1",
        "param_forward",
        "forward",
        "training",
        "channels",
        "channel_dim",
        "memory_efficient",
        "program",
        "code",
        "parameter",
        "_parameters",
        "__class__",
        "__init__",
        "__dict__",
        "_x",
        "__",
        "_",
        "plain_forward",
        "fused_forward",
        "expression",
        "T_destination",
        "dump_patches",
        *(name for name in dir(nn.Module) if not name.startswith("__")),
        *(name for name in dir(builtins) if name.isidentifier() and not name.startswith("__")),
    }
    - {"x", "pi", "e", "where", "true", "false"}
)
VALUES = [
    "1e308", "-1e308", "1e-320", "-1e-320", "5e-324", "-0.0", "0.0", "0", "-0", "3.5e38", "-3.5e38",
    "3.4e38", "1e38", "1e-45", "1e-300", "65504", "1e16", "9007199254740993", "1", "-1", "0.5", "2",
    "100", "1e999", "-1e999", "nan", "inf", "true", "false", "none", "tanh", "x",
]
UNARY = [p.name for p in primitives() if p.arity == 1 and not p.stateful and not p.stochastic]
STATEFUL = ["prelu", "ditac[a=-3, b=3, cells=8]", "cpab[a=-1, b=1, cells=4]", "ash", "l_ditac[a=-2, b=2, cells=4]"]
PRIORS = ["prior_scale", "prior_length"]


@dataclass(frozen=True)
class Case:
    """One hostile input: activation text and how to run it."""

    text: str
    channels: int | None
    memory_efficient: bool
    double: bool


def name(rng: random.Random) -> str:
    return rng.choice(NAMES)


def value(rng: random.Random) -> str:
    return rng.choice(VALUES)


def hyper_call(rng: random.Random) -> str:
    """A primitive with every float hyperparameter it has set to a hostile value (or a random key)."""
    primitive = rng.choice([p for p in primitives() if p.hyper and not p.stochastic])
    keys = [h for h in primitive.hyper if h.kind != "bool" or rng.random() < 0.3]
    items = [f"{h.name}={value(rng)}" for h in keys if h.default is not REQUIRED and rng.random() < 0.7]
    required = {"a": "-3", "b": "3", "cells": "8"}
    items += [f"{h.name}={required.get(h.name, value(rng))}" for h in keys if h.default is REQUIRED]
    if rng.random() < 0.1:
        items.append(f"{name(rng)}={value(rng)}")
    argument = rng.choice(["x", "x", f"{name(rng)} * x", name(rng), value(rng).lstrip("-")])
    return f"{primitive.name}[{', '.join(items)}]({argument})"


def expression(rng: random.Random) -> str:
    """Activation text from one of the hostile families."""
    family = rng.randrange(9)
    if family == 0:  # names in every position a learned scalar can take
        a, b = name(rng), name(rng)
        return rng.choice([f"x * {a}", f"{a} * x + {b}", f"relu(x)^{a}", f"sigmoid({a} * x) * x",
                           f"x / {a}", f"{a}^x", f"prelu(x) + {a} * x", f"max(x, {a}) - {b}"])
    if family == 1:
        return hyper_call(rng)
    if family == 2:  # where clauses with extreme initial values
        a = name(rng)
        return f"relu(x)^{a} * x where {a} = {value(rng)}"
    if family == 3:  # deep nesting, up to past the limit of 200
        depth = rng.choice([30, 33, 100, 150, 199, 200, 201])
        inner = rng.choice(["x", f"{name(rng)} * x", "x^2"])
        calls = [rng.choice(UNARY) for _ in range(depth - 2)]
        return "".join(f"{c}(" for c in calls) + inner + ")" * len(calls)
    if family == 4:  # wide variadic calls
        width = rng.choice([2, 17, 100, 500, 800])
        term = rng.choice(["x", "x * {i}", "sin(x * {i})", "{n}_{i} * x"])
        body = ",".join(term.format(i=i, n=name(rng)) for i in range(width))
        return f"{rng.choice(['max_n', 'min_n', 'sum_n', 'prod_n', 'mix'])}({body})"
    if family == 5:  # stateful primitives on something other than x
        site, a = rng.choice(STATEFUL), name(rng)
        return rng.choice([f"{site}({a}) * x", f"{site}({value(rng).lstrip('-')}) + x", f"{site}(sigmoid({a}))"])
    if family == 6:  # DiTAC priors at extreme scales
        return f"ditac[a=-3, b=3, cells=8, init=prior, {rng.choice(PRIORS)}={value(rng)}](x)"
    if family == 7:  # signed zeros and poles
        return rng.choice(
            ["reciprocal(relu(x))", "x^p where p = -0.0", f"leaky_relu[slope={value(rng)}](x) / x",
             "log(relu(x)) * relu(x)", "relu(x)^p", "abs(x)^p where p = 0.5", "p^x where p = 0"]
        )
    a = name(rng)  # mixtures of the above
    return f"{hyper_call(rng)} + {a} * {rng.choice(UNARY)}(x) where {a} = {value(rng)}"


def case(seed: int) -> Case:
    """The hostile input of ``seed`` (deterministic)."""
    rng = random.Random(seed)
    return Case(
        text=expression(rng),
        channels=rng.choice([None, None, 3]),
        memory_efficient=rng.random() < 0.5,
        double=rng.random() < 0.5,
    )


def params(seed: int) -> object:
    """A hostile ``params`` argument for ``evaluate``."""
    rng = random.Random(seed)
    choices: list[object] = [
        None, {}, 5, "beta", [1.0], {name(rng): 1.0}, {name(rng): "abc"}, {name(rng): [1.0, 2.0, 3.0]},
        {name(rng): float("nan")}, {name(rng): 1e308}, {1: 2.0}, {name(rng): None}, {name(rng): object()},
        {"prelu_0.a": [[1.0], [2.0]]}, {name(rng): 1j},
    ]
    return rng.choice(choices)


def run_compile(c: Case) -> None:
    """``compile`` the case and take one training step (forward and backward, with grad)."""
    import torch

    import actlang

    module = actlang.compile(c.text, channels=c.channels, memory_efficient=c.memory_efficient)
    dtype = torch.float64 if c.double else torch.float32
    module = module.to(dtype).train()
    x = torch.linspace(-4.0, 4.0, 24, dtype=dtype).reshape(2, 3, 4).requires_grad_()
    y = module(x)
    if y.requires_grad:  # a constant (zero(x), x-free text) has no graph, as in plain torch
        y.sum().backward()


def run_evaluate(c: Case, seed: int) -> None:
    """``evaluate`` the case at a few points (signed zeros included) with a hostile ``params``."""
    import actlang

    actlang.evaluate(c.text, [-2.0, -0.0, 0.0, 1e-12, 3.0], params=params(seed))  # type: ignore[arg-type]


def run_cli(c: Case, seed: int) -> int:
    """``actlang compile`` or ``actlang check`` on the case, through :func:`actlang.cli.main`."""
    import contextlib
    import io

    from actlang.cli import main

    argv = ["check", c.text] if seed % 2 else ["compile", c.text]
    if c.channels is not None and argv[0] == "compile":
        argv += ["--channels", str(c.channels)]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return main(argv)
        except SystemExit as exit_:  # argparse's own usage errors: exit 2
            return int(exit_.code or 0)


def outcome(work) -> tuple[str, float]:
    """("ok" | "ActlangError" | the class of anything else, seconds) of ``work()``."""
    import time

    from actlang.errors import ActlangError

    start = time.perf_counter()
    try:
        work()
        kind = "ok"
    except ActlangError:
        kind = "ActlangError"
    except Exception as error:  # the thing being counted: anything but an ActlangError
        kind = f"{type(error).__name__}: {str(error).splitlines()[0][:120] if str(error) else ''}"
    return kind, time.perf_counter() - start
