"""From a trained mixture to its "optimized" network (AdAct, seed 003): keep the heaviest branch.

:func:`dominant` rewrites a compiled activation's expression, replacing every ``mix`` by its
heaviest branch and every ``adact`` by the heaviest branch of its body (with ``x`` bound to the
argument); :func:`collapsed` compiles that expression and carries over the learned state of every
surviving site (``prelu_0.a`` of a kept PReLU branch, ``ditac_0.theta``, free scalars) so that a
one-hot mixture computes the same function before and after. :func:`collapse` does this for every
compiled activation inside a model, in place, and reports what was chosen where.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from torch import nn

from actlang import compiler
from actlang.ast import Call, Expr, Input, Sites
from actlang.compiler.module import ActivationModule
from actlang.registry import lookup

Origin = tuple[str, str]  # (primitive name, state path of the site in the original module)


@dataclass(frozen=True)
class Choice:
    """One mixture's decision: its site, its branches, their softmax weights, the winner."""

    path: str  # the activation's path in the model ("" for the root) and the site, "features.2/adact_0"
    branches: tuple[str, ...]
    weights: tuple[float, ...]
    chosen: int

    def __str__(self) -> str:
        weights = ", ".join(f"{b}={w:.3f}" for b, w in zip(self.branches, self.weights, strict=True))
        return f"{self.path}: {self.branches[self.chosen]}  ({weights})"


@dataclass
class CollapseReport:
    """What :func:`collapse` did: the model (a new object only when the root itself was replaced),
    each activation's new expression by path, and every mixture's :class:`Choice`."""

    model: nn.Module
    replaced: dict[str, str] = field(default_factory=dict)
    choices: list[Choice] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{path or '<root>'}: {text}" for path, text in self.replaced.items()]
        return "\n".join(lines + [f"  {choice}" for choice in self.choices])


@dataclass
class _Walk:
    module: nn.Module  # the ActivationModule whose expression is being walked
    prefix: str  # its state path relative to the root activation ("" or "adact_0.body.")
    label: str  # its path in the model, for the report
    choices: list[Choice]
    sites: Sites = field(default_factory=Sites)


def dominant(module: nn.Module) -> Expr:
    """The compiled activation's expression with every mixture replaced by its heaviest branch."""
    return _collapse(module.program.expression, _Walk(module, "", "", []))[0]


def collapsed(module: nn.Module, label: str = "") -> tuple[nn.Module, list[Choice]]:
    """A fresh compiled module of :func:`dominant`'s expression carrying over the surviving state."""
    choices: list[Choice] = []
    expr, origins = _collapse(module.program.expression, _Walk(module, "", label, choices))
    fuse = {"on": True, "off": False}.get(module.fusion, "auto")  # the module's fuse option, kept
    new = compiler.compile(
        expr, channels=module.channels, channel_dim=module.channel_dim, memory_efficient=module.memory_efficient,
        fuse=fuse,
    )
    reference = next(iter(module.parameters()), None)
    if reference is not None:  # before copying, so that float64 state is not rounded to float32
        new = new.to(device=reference.device, dtype=reference.dtype)
    sites = Sites()
    names = []
    for primitive, old_path in origins:
        names.append(sites.next(primitive))
        new.get_submodule(names[-1]).load_state_dict(module.get_submodule(old_path).state_dict())
    assert names == [site.name for site in new.program.sites], (names, new.program.sites)
    for name in new.program.params:  # free scalars (beta, ...) of the surviving branches
        new.parameter(name).data.copy_(module.parameter(name).data)
    return new.train(module.training), choices


def collapse(model: nn.Module) -> CollapseReport:
    """Replace, in place, every compiled activation in ``model`` that holds a mixture (``mix``,
    ``adact``) by its collapsed form; the report says what was chosen where. When ``model`` is
    itself such an activation, the new module is ``report.model``."""
    from actlang.models import set_submodule

    report = CollapseReport(model)
    done: list[str] = []
    for path, module in list(model.named_modules()):
        # inside a collapsed one (all of it, for the root ""): collapsed with it, and the original
        # must not be changed (report.model is the new root)
        if not isinstance(module, ActivationModule) or any(not p or path.startswith(p + ".") for p in done):
            continue
        if not any(hasattr(m, "dominant_index") for m in module.modules()):
            continue
        new, choices = collapsed(module, path)
        done.append(path)
        report.choices += choices
        report.replaced[path] = new.expression
        if path:
            set_submodule(model, path, new)
        else:
            report.model = new
    return report


def _collapse(expr: Expr, walk: _Walk) -> tuple[Expr, list[Origin]]:
    """(collapsed expr, origins of its stateful calls in evaluation order)."""
    match expr:
        case Call(name=name, args=args, hyper=hyper):
            parts = [_collapse(a, walk) for a in args]
            origins = [o for _, part in parts for o in part]
            primitive = lookup(name)
            assert primitive is not None, name
            if not primitive.stateful:
                return Call(name, tuple(e for e, _ in parts), hyper, expr.span), origins
            site = walk.sites.next(name)
            sub = walk.module.get_submodule(site)
            if isinstance(getattr(sub, "body", None), nn.Module) and hasattr(sub.body, "program"):
                # a primitive written in actlang (adact): collapse its body, bind x to the argument
                inner = _Walk(sub.body, f"{walk.prefix}{site}.body.", _join(walk.label, site), walk.choices)
                body, body_origins = _collapse(sub.body.program.expression, inner)
                return _bind(body, iter(body_origins), parts[0])
            if hasattr(sub, "dominant_index"):
                chosen = sub.dominant_index()
                walk.choices.append(_choice(_join(walk.label, site), args, sub, chosen))
                return parts[chosen]
            return Call(name, tuple(e for e, _ in parts), hyper, expr.span), [*origins, (name, walk.prefix + site)]
    return expr, []


def _bind(body: Expr, body_origins: Iterator[Origin], arg: tuple[Expr, list[Origin]]) -> tuple[Expr, list[Origin]]:
    """``body`` with ``x`` replaced by ``arg``, origins interleaved in evaluation order."""
    match body:
        case Input():
            return arg
        case Call(name=name, args=args, hyper=hyper):
            parts = [_bind(a, body_origins, arg) for a in args]
            origins = [o for _, part in parts for o in part]
            primitive = lookup(name)
            if primitive is not None and primitive.stateful:
                origins.append(next(body_origins))
            return Call(name, tuple(e for e, _ in parts), hyper, body.span), origins
    return body, []


def _join(label: str, site: str) -> str:
    return f"{label}/{site}" if label else site


def _choice(path: str, args: tuple[Expr, ...], sub: nn.Module, chosen: int) -> Choice:
    weights = sub.weights().detach()
    if weights.dim() > 1:
        weights = weights.mean(dim=0)  # per-channel mixtures: the channel average decides
    return Choice(path, tuple(str(a) for a in args), tuple(float(w) for w in weights), chosen)
