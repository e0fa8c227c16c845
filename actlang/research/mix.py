"""Mixtures of activations (AdAct, seed 003): ``mix(f1, ..., fn) = Σ softmax(w)_i · f_i(x)``.

A ``mix`` site owns the logits ``w`` (init 0: a uniform mixture), one row per layer or, with
``channels=C``, one row per channel (shape ``[C, n]``, softmax over the branches). The branches
are ordinary sub-expressions compiled around the site, so the site receives the n branch tensors.
``adact`` is the paper's seven-way mixture, written once in actlang (:data:`ADACT`) and compiled
inside its site as ``adact_<i>.body``.

TorchScript cannot script ``*args``, so each arity gets a small generated subclass whose forward
takes exactly n tensors (generated from the integer n only, never from user text).
"""

from __future__ import annotations

import functools
import linecache
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from actlang import compiler
from actlang.definitions.mix import ADACT  # the one actlang definition of AdAct
from actlang.errors import ActlangError
from actlang.research.broadcast import along_rank


def dominant_of(module: nn.Module) -> Any:
    """:func:`actlang.research.collapse.dominant` of the compiled ``module`` holding a mixture site
    (what ``ActivationModule.dominant()`` calls)."""
    from actlang.research.collapse import dominant

    return dominant(module)


class Mix(nn.Module):
    """One ``mix`` site with ``arity`` branches: logits ``w`` of shape ``[n]`` or ``[C, n]``."""

    dominant_of = staticmethod(dominant_of)

    def __new__(cls, hp: Mapping[str, Any] | None = None, channels: int | None = None, channel_dim: int = 1,
                arity: int | None = None):
        if cls is Mix:  # pick the subclass whose forward takes exactly `arity` tensors
            if arity is None or arity < 1:
                raise ActlangError(f"mix needs the number of its branches (at least 1), got {arity!r}")
            cls = _mix_class(arity)
        return super().__new__(cls)

    def __init__(self, hp: Mapping[str, Any] | None = None, channels: int | None = None, channel_dim: int = 1,
                 arity: int | None = None) -> None:
        super().__init__()
        assert arity is not None
        shape = (arity,) if channels is None else (channels, arity)
        self.w = nn.Parameter(torch.zeros(shape, dtype=torch.get_default_dtype()))
        self.channel_dim = channel_dim

    def __getnewargs__(self):  # copy/pickle recreate the right subclass
        return (None, None, self.channel_dim, self.w.shape[-1])

    @property
    def arity(self) -> int:
        return self.w.shape[-1]

    def weights(self) -> torch.Tensor:
        """softmax(w) over the branches: shape ``[n]`` or ``[C, n]``; each row sums to one."""
        return torch.softmax(self.w, dim=-1)

    def dominant_index(self) -> int:
        """The heaviest branch; per-channel weights are averaged over channels first."""
        p = self.weights().detach()
        return int(torch.argmax(p if p.dim() == 1 else p.mean(dim=0)))

    def extra_repr(self) -> str:
        p = self.weights().detach()
        p = p if p.dim() == 1 else p.mean(dim=0)
        return "softmax(w)=[" + ", ".join(f"{v:.3f}" for v in p.tolist()) + "]"


@functools.cache
def _mix_class(arity: int) -> type[Mix]:
    names = [f"b{i}" for i in range(arity)]
    signature = ", ".join(f"{n}: torch.Tensor" for n in names)
    lines = ["p = torch.softmax(self.w, dim=-1)", f"rank = max([{', '.join(f'{n}.dim()' for n in names)}])"]
    lines += ["out = along_rank(p[..., 0], rank, self.channel_dim) * b0"]
    lines += [f"out = out + along_rank(p[..., {i}], rank, self.channel_dim) * {n}" for i, n in enumerate(names) if i]
    body = "".join(f"    {line}\n" for line in lines)
    source = f"def forward(self, {signature}) -> torch.Tensor:\n{body}    return out\n"
    filename = f"<actlang-mix-{arity}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    scope: dict[str, Any] = {"torch": torch, "along_rank": along_rank}
    exec(compile(source, filename, "exec"), scope)  # generated from an integer, never user text
    cls = type(f"Mix{arity}", (Mix,), {"forward": scope["forward"], "__module__": __name__})
    cls.__qualname__ = f"Mix{arity}"
    return cls


def __getattr__(name: str) -> Any:
    # pickle looks generated classes up by name (``actlang.research.mix.Mix3``): build on demand.
    if name.startswith("Mix") and name[3:].isdigit() and int(name[3:]) >= 1:
        return _mix_class(int(name[3:]))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class AdAct(nn.Module):
    """One ``adact`` site: :data:`ADACT` compiled as ``body`` (its ``mix_0.w`` and ``prelu_0.a``)."""

    dominant_of = staticmethod(dominant_of)

    def __init__(self, hp: Mapping[str, Any] | None = None, channels: int | None = None, channel_dim: int = 1) -> None:
        super().__init__()
        self.body = compiler.compile(ADACT, channels=channels, channel_dim=channel_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def weights(self) -> torch.Tensor:
        """softmax(w) of the seven branches, in :data:`ADACT`'s order."""
        return self.body.mix_0.weights()

    def dominant_index(self) -> int:
        return self.body.mix_0.dominant_index()
