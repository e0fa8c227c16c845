"""Search spaces (docs/search.md): AQuaSurF's operator sets and templates, enumeration in its order,
float32 features with its numerics, and deduplication by outputs, tolerance or proof; and the
search itself (docs/search.md): tasks, Fisher features, the UMAP+KNN surrogate, resumable studies in
an sqlite store, and replays on measured tables.

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
from actlang.search.fisher import fisher_features
from actlang.search.keys import SYMMETRIES
from actlang.search.simulate import simulate
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
    enumerate,  # noqa: A004 - the public name
    space,
)
from actlang.search.strategy import STRATEGIES
from actlang.search.study import Study
from actlang.search.surrogate import Surrogate
from actlang.search.task import ClassificationTask, Dataset, Task
from actlang.search.tasks import load_task

__all__ = [
    "AQUASURF_BINARY",
    "AQUASURF_EXTRA_UNARY",
    "AQUASURF_NARY",
    "AQUASURF_UNARY",
    "BASELINES",
    "BYS",
    "PRESETS",
    "STRATEGIES",
    "SYMMETRIES",
    "ClassificationTask",
    "Dataset",
    "Deduplication",
    "EquivalenceClass",
    "Preset",
    "Space",
    "Study",
    "Surrogate",
    "Task",
    "aquasurf_points",
    "count",
    "deduplicate",
    "enumerate",
    "features",
    "fisher_features",
    "load_task",
    "simulate",
    "space",
]
