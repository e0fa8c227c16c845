"""The search's two costs per step (docs/performance.md): Fisher features of one candidate on
``mnist1d``, and one surrogate suggestion (UMAP of outputs ∪ Fisher + KNN) over N classes.

Targets (issue #11): Fisher features ≤ 0.5 s per candidate; suggestion over 5,000 classes ≤ 30 s.
The suggestion is timed twice in one process: the first call includes numba's JIT compilation of
UMAP's kernels (paid once per process), the second is what every later fit costs. Classes are the
first N of the benchmark space's classes, each class's Fisher row copied from a measured one when
N exceeds the space (the cost depends on N and the widths, not on the values).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np


def fisher_times(names: list[str], repeat: int) -> list[float]:
    import torch

    from actlang.search.fisher import fisher_feature
    from actlang.search.tasks import load_task

    torch.set_num_threads(1)
    task = load_task("mnist1d")
    task.batch()  # the data set is generated (or read from the cache) outside the timing
    fisher_feature(task, names[0])
    times = []
    for name in names * repeat:
        start = time.perf_counter()
        fisher_feature(task, name)
        times.append(time.perf_counter() - start)
    return times


def suggestion_times(n: int) -> tuple[float, float]:
    from actlang.search import features, space
    from actlang.search.dedup import deduplicate
    from actlang.search.surrogate import Surrogate, embed

    grouping = deduplicate(space(preset="aquasurf-large"))
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(grouping), size=4 * n, replace=False)
    names = [grouping.names[i] for i in grouping.representative_index[chosen]]
    outputs = features(names)
    outputs = outputs[np.isfinite(outputs).all(axis=1)][:n].astype(np.float64)
    fisher = np.sort(rng.random((len(outputs), 51)), axis=1)
    results = []
    for _ in range(2):
        start = time.perf_counter()
        surrogate = Surrogate(embed(outputs, fisher, "both", seed=0))
        surrogate.fit(np.arange(50), rng.random(50)).suggest(1, exclude=range(50))
        results.append(time.perf_counter() - start)
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_version()}")
    from actlang.search import enumerate as enumerate_space

    # distinct candidates, so each timing includes compiling a new expression (as in a search)
    names = list(enumerate_space(preset="benchmark"))[:: 5103 // (5 * args.repeat)][: 5 * args.repeat]
    times = fisher_times(names, 1)
    print(f"Fisher features, mnist1d, one thread: median {statistics.median(times):.3f} s, "
          f"max {max(times):.3f} s over {len(times)} calls")
    first, later = suggestion_times(args.classes)
    print(f"UMAP+KNN suggestion over {args.classes} classes: {first:.1f} s first (with JIT), {later:.1f} s after")


if __name__ == "__main__":
    main()
