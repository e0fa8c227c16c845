"""Mixtures of activations (seed 003; docs/research.md): ``mix(f1, ..., fn)`` and the paper's ``adact``.

``mix`` weights its arguments by softmax(w), w learned (init 0, uniform). ``adact`` is written in
actlang (:data:`actlang.research.mix.ADACT`, mirrored here without importing torch). Site modules:
:mod:`actlang.research.mix`; the numpy references below never import torch.
"""

from __future__ import annotations

from typing import Any

from actlang.definitions.lazy import np
from actlang.registry import Learned, Primitive, define

ADACT = "mix(relu, elu, leaky_relu, prelu, rrelu, silu, mish)"
_SOURCE = "Maiti, AdAct: learning to optimize activation function choice (seed 003)"


def softmax(w: Any, n: int) -> np.ndarray:
    """softmax of the logits ``w`` (shape [n], or a scalar meaning n equal logits: uniform)."""
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), (n,))
    e = np.exp(w - w.max())
    return e / e.sum()


def reference(*branches: Any, w: Any = 0.0) -> np.ndarray:
    """Σ softmax(w)_i · branch_i in float64 (one mixture per layer)."""
    p = softmax(w, len(branches))
    return sum(p[i] * np.asarray(b, dtype=np.float64) for i, b in enumerate(branches))


define(Primitive(
    name="mix", doc="Σ softmax(w)_i · f_i(x) over its arguments; w learned, init 0 (uniform)", source=_SOURCE,
    torch=None, numpy=reference, arity=None, min_args=1,
    learned=(Learned("w", 0.0, doc="mixture logits, one per argument (per channel: [C, n])"),),
    module="actlang.research.mix:Mix",
))
define(Primitive(
    name="adact", doc="the paper's AdAct: " + ADACT, source=_SOURCE, torch=None, definition=ADACT,
    stochastic=True, module="actlang.research.mix:AdAct",
))
