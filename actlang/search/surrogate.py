"""The surrogate (docs/search.md): a 2-D UMAP embedding of the candidates and KNN regression on it.

Features: the output vectors (euclidean UMAP) and the Fisher CDFs (manhattan UMAP, 3 neighbours),
joined as the fuzzy union of the two UMAP graphs (umap-learn's ``a + b``), as AQuaSurF does. The
embedding is unsupervised, so it is fitted once per candidate set; only the k-nearest-neighbour
regressor (k = 3) of ``val_acc`` is refitted as results arrive. ``features="outputs"`` or
``"fisher"`` embeds one kind only (the paper's ablations).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np

from actlang.errors import ActlangError

Features = Literal["both", "outputs", "fisher"]
FEATURES: tuple[Features, ...] = ("both", "outputs", "fisher")
NEIGHBOURS = 3


def embed(
    outputs: np.ndarray | None, fisher: np.ndarray | None, features: Features = "both", seed: int = 0
) -> np.ndarray:
    """The ``[n, 2]`` UMAP embedding of the candidates (rows) by ``features``.

    Each feature kind gives UMAP's fuzzy graph (outputs: euclidean, 15 neighbours; Fisher:
    manhattan, 3 neighbours); ``"both"`` joins them by fuzzy union — what ``umap_a + umap_b``
    computes — and one layout is optimised on the result (``a + b`` would also lay out a and b).
    """
    if features not in FEATURES:
        raise ActlangError(f"unknown features {features!r}; expected one of {', '.join(FEATURES)}")
    try:
        import scipy.sparse.csgraph
        from umap import umap_
    except ImportError as error:
        raise ActlangError("the surrogate needs umap-learn: pip install 'actlang[search]'") from error
    rng = np.random.RandomState(seed)
    graphs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's and pynndescent's notes
        if features in ("both", "outputs"):
            graphs.append(_graph(umap_, outputs, "output", "euclidean", 15, rng))
        if features in ("both", "fisher"):
            graphs.append(_graph(umap_, fisher, "Fisher", "manhattan", 3, rng))
        graph = graphs[0]
        if len(graphs) == 2:
            graph = umap_.reset_local_connectivity(umap_.general_simplicial_set_union(*graphs), True)
        connected = scipy.sparse.csgraph.connected_components(graph)[0] == 1
        a, b = umap_.find_ab_params(1.0, 0.1)
        embedding, _ = umap_.simplicial_set_embedding(
            None, graph, 2, 1.0, a, b, 1.0, 5, None, "spectral" if connected else "random", rng,
            "euclidean", {}, False, {}, False,
        )
    return np.asarray(embedding, np.float64)


def _graph(umap_, data: np.ndarray | None, what: str, metric: str, neighbours: int, rng: np.random.RandomState):
    """UMAP's fuzzy graph of ``data``; the exact neighbours come from scikit-learn (UMAP's own
    small-data path JIT-compiles a parallel brute-force search in every new process)."""
    from sklearn.neighbors import NearestNeighbors

    if data is None or not len(data) or not np.isfinite(data).all():
        raise ActlangError(f"the {what} features must be finite for every candidate")
    if len(data) <= NEIGHBOURS + 1:
        raise ActlangError(f"an embedding needs more than {NEIGHBOURS + 1} candidates, got {len(data)}")
    data = np.asarray(data, np.float64)
    k = min(neighbours, len(data) - 1)
    distances, indices = NearestNeighbors(n_neighbors=k, metric=metric).fit(data).kneighbors(data)
    graph, _, _ = umap_.fuzzy_simplicial_set(data, k, rng, metric, knn_indices=indices, knn_dists=distances)
    return graph


class Surrogate:
    """KNN (k = 3) regression of accuracy over a fixed embedding of ``n`` candidates.

    >>> s = Surrogate(np.array([[0.0, 0], [1, 0], [0, 1], [5, 5], [6, 5]]))
    >>> s.fit([0, 1, 3, 4], [0.9, 0.8, 0.1, 0.2]).suggest(1)
    [2]
    """

    def __init__(self, embedding: np.ndarray):
        self.embedding = np.asarray(embedding, np.float64)
        self.predicted = np.full(len(self.embedding), np.nan)

    @classmethod
    def from_features(cls, outputs: np.ndarray | None, fisher: np.ndarray | None,
                      features: Features = "both", seed: int = 0) -> Surrogate:
        return cls(embed(outputs, fisher, features, seed))

    def fit(self, indices: Sequence[int], accuracies: Sequence[float]) -> Surrogate:
        """Refit on the evaluated candidates ``indices`` (their ``val_acc``); predicts the rest."""
        from sklearn.neighbors import KNeighborsRegressor

        indices = np.asarray(indices, np.int64)
        targets = np.nan_to_num(np.asarray(accuracies, np.float64), nan=0.0)
        if not len(indices):
            self.predicted[:] = np.nan
            return self
        knn = KNeighborsRegressor(n_neighbors=min(NEIGHBOURS, len(indices)))
        knn.fit(self.embedding[indices], targets)
        self.predicted = knn.predict(self.embedding)
        return self

    def suggest(self, n: int = 1, exclude: Sequence[int] = (), rng: np.random.Generator | None = None) -> list[int]:
        """The ``n`` candidates not in ``exclude`` (nor fitted) with the best predicted accuracy;
        ties are broken by ``rng`` (or by index)."""
        free = np.ones(len(self.embedding), bool)
        free[np.asarray(list(exclude), np.int64)] = False
        candidates = np.flatnonzero(free & np.isfinite(self.predicted))
        if not len(candidates):
            return []
        jitter = rng.random(len(candidates)) if rng is not None else -candidates / (len(candidates) + 1.0)
        order = np.lexsort((-jitter, -self.predicted[candidates]))
        return candidates[order[:n]].tolist()
