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
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from actlang.ast import Input
from actlang.errors import ActlangError, ConstantExpressionError, ParseError, UnknownNameError
from actlang.search.dedup import deduplicate
from actlang.search.features import features
from actlang.search.space import AQUASURF_BINARY, AQUASURF_NARY, AQUASURF_UNARY, BASELINES, PRESETS, Space, space
from actlang.search.template import parse_template

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
    preset, templates = check_space(spec)
    if preset is not None:
        return space(list(BASELINES), preset=preset)
    return space(templates + list(BASELINES))


# A bare name (hyphens allowed, as in ``aquasurf-large``): a preset's spelling. As a template it
# would be a learned scalar (``aquasurf-large``: two of them), a constant function: never meant.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_PLACEHOLDERS = ("unary", "binary", "n-ary")


def check_space(spec: str) -> tuple[str | None, list[str]]:
    """``(preset, [])`` for a preset's name, ``(None, templates)`` for templates separated by ``;``;
    cheap (nothing is enumerated). A bare name that is no preset is an unknown preset (with a
    did-you-mean), and a template that never uses ``x`` is refused: its every string would be a
    constant function."""
    if not isinstance(spec, str) or not spec.strip():
        raise ActlangError(f"a space is a preset ({', '.join(PRESETS)}) or a template, got {spec!r}")
    if spec.strip() in PRESETS:
        return spec.strip(), []
    templates = [t.strip() for t in spec.split(";") if t.strip()]
    for text in templates:
        if text in PRESETS:
            raise ActlangError(f"the preset {text!r} cannot be combined with templates; give --space {text} alone")
        if text in _PLACEHOLDERS:
            raise ParseError(f"{text!r} is a placeholder, not a space: apply it to x, e.g. '{text}(x)'"
                             if text != "n-ary" else "'n-ary' is a placeholder, not a space: e.g. 'n-ary(x,x,x)'")
        if _NAME.fullmatch(text) and text != "x":
            raise _unknown_preset(text)
        _require_x(text)
    return None, templates


def _unknown_preset(name: str) -> UnknownNameError:
    import difflib

    folded = {p.lower().replace("_", "-"): p for p in PRESETS}
    close = difflib.get_close_matches(name.lower().replace("_", "-"), list(folded), n=1, cutoff=0.6)
    guess = f"; did you mean {folded[close[0]]!r}?" if close else ""
    return UnknownNameError(f"unknown space preset {name!r}{guess} (presets: {', '.join(PRESETS)}; or give a "
                            "template, e.g. 'binary(unary(x),unary(x))')")


def _require_x(text: str) -> None:
    """Parse one template (errors with a caret) and refuse one that never uses ``x``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the constant is refused below, more clearly than a warning says
        template = parse_template(text, AQUASURF_UNARY, AQUASURF_BINARY, AQUASURF_NARY)
    stack: list = [template.root]
    while stack:
        node = stack.pop()
        if isinstance(node, Input):
            return
        stack += getattr(node, "args", ())
    raise ConstantExpressionError(f"the template {text!r} never uses the input x: every function of its space would "
                                  "be a constant", hint="the input is written x, e.g. 'unary(x)'")


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
