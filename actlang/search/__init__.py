"""Search spaces (SPEC §7): AQuaSurF's operator sets and templates, enumeration in its order,
float32 features with its numerics, and deduplication by outputs, tolerance or proof.

>>> from actlang import search
>>> search.count("binary(unary(x),unary(x))")
5103
>>> len(search.deduplicate(search.space("binary(unary(x),unary(x))")))  # doctest: +SKIP
2916
"""

from __future__ import annotations

from actlang.search.dedup import BYS, Deduplication, EquivalenceClass, deduplicate
from actlang.search.engine import aquasurf_points
from actlang.search.features import features
from actlang.search.keys import SYMMETRIES
from actlang.search.space import (
    AQUASURF_BINARY,
    AQUASURF_EXTRA_UNARY,
    AQUASURF_NARY,
    AQUASURF_UNARY,
    BASELINES,
    PRESETS,
    Preset,
    Space,
    count,
    enumerate,  # noqa: A004 - the SPEC's name
    space,
)

__all__ = [
    "AQUASURF_BINARY", "AQUASURF_EXTRA_UNARY", "AQUASURF_NARY", "AQUASURF_UNARY", "BASELINES", "BYS",
    "PRESETS", "SYMMETRIES", "Deduplication", "EquivalenceClass", "Preset", "Space", "aquasurf_points",
    "count", "deduplicate", "enumerate", "features", "space",
]  # fmt: skip
