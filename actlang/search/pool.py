"""A study's candidates: the equivalence classes of a space, plus the 8 baselines.

The space (a preset name or a template) is enumerated and grouped by AQuaSurF's rule
(bit-identical float32 outputs); each class is keyed by the SHA-1 of its canonical output vector,
which does not depend on enumeration order. A space with more classes than ``pool`` is sampled
uniformly (seeded) — the baselines' classes are always kept — since Fisher features and the
embedding of half a million classes are out of reach of one machine; AQuaSurF also computes
Fisher features for a random few thousand classes only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from actlang.errors import ActlangError
from actlang.search.dedup import deduplicate
from actlang.search.features import features
from actlang.search.space import BASELINES, PRESETS, Space, space

DEFAULT_POOL = 5000


@dataclass(frozen=True)
class Candidate:
    """One class: stable key, representative (a baseline's own name when it is one), members."""

    key: str
    representative: str
    baseline: bool
    outputs: np.ndarray
    members: tuple[str, ...]


def resolve_space(spec: str) -> Space:
    """A preset name or a template (or several, comma-free, separated by ``;``), plus the baselines."""
    if not isinstance(spec, str) or not spec.strip():
        raise ActlangError(f"a space is a preset ({', '.join(PRESETS)}) or a template, got {spec!r}")
    if spec in PRESETS:
        return space(list(BASELINES), preset=spec)
    return space([t.strip() for t in spec.split(";") if t.strip()] + list(BASELINES))


def class_key(outputs: np.ndarray) -> str:
    """The SHA-1 of a class's canonical float32 outputs (NaNs canonical, as dedup keys them)."""
    row = np.ascontiguousarray(outputs, np.float32)
    return hashlib.sha1(row.tobytes()).hexdigest()


def candidates(spec: str, pool: int | None = DEFAULT_POOL, seed: int = 0) -> Iterator[Candidate]:
    """The classes of ``spec`` (all of them, or ``pool`` sampled plus the baselines'), in class order."""
    grouping = deduplicate(resolve_space(spec))
    chosen = _choose(grouping, pool, seed)
    classes = grouping.classes
    names = [_representative(classes[c].members, classes[c].representative) for c in chosen]
    rows = features(names)
    for c, name, row in zip(chosen, names, rows, strict=True):
        members = classes[c].members
        yield Candidate(class_key(row), name, any(m in BASELINES for m in members), row, tuple(dict.fromkeys(members)))


def _choose(grouping, pool: int | None, seed: int) -> list[int]:
    total = len(grouping)
    if pool is None or total <= pool:
        return list(range(total))
    if pool < 1:
        raise ActlangError(f"pool must be a positive number of classes, got {pool}")
    baseline_index = [grouping.names.index(b) for b in BASELINES if b in grouping.names]
    baseline_classes = {int(grouping.labels[i]) for i in baseline_index}
    others = np.setdiff1d(np.arange(total), np.fromiter(baseline_classes, np.int64, len(baseline_classes)))
    picked = np.random.default_rng(seed).choice(others, size=min(pool, len(others)), replace=False)
    return sorted(baseline_classes | set(picked.tolist()))


def _representative(members: tuple[str, ...], default: str) -> str:
    for baseline in BASELINES:
        if baseline in members:
            return baseline
    return default
