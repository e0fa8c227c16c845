"""Fisher features (docs/search.md): the spectrum of the Kronecker-factored Fisher at initialisation.

For a network built with one activation, curvlinops' ``KFACLinearOperator`` (Monte-Carlo Fisher:
labels sampled from the model's predictive distribution) gives each weight layer's two Kronecker
factors, the input covariance A (bias folded in as a homogeneous coordinate) and the
output-gradient covariance G, on ``task.batch()``. The eigenvalues of A ⊗ G are the pairwise
products λᵢ(A)·μⱼ(G), so their logarithms are the pairwise sums log λᵢ + log μⱼ. Per layer these
are binned into ``num_weights // 100`` bins on [−100, 100] and turned into a normalised CDF
(AQuaSurF's representation); the feature is the concatenation over layers. A candidate whose
factors are not finite, or whose spectrum has no mass in the range, is flagged invalid.

curvlinops was chosen over nngeometry and BackPACK: it is maintained (3.x, 2026), exposes the
factors themselves (not only products with them), supports ``Conv2d`` with weight sharing (the
KFAC-expand approximation of Grosse & Martens) and the MC Fisher, and needs no model extension.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from actlang.errors import ActlangError
from actlang.search.task import Task

LOG_RANGE = (-100.0, 100.0)
INIT_SEED = 0  # the network's initial weights, the same for every candidate


def spectrum_cdf(log_input: np.ndarray, log_gradient: np.ndarray, num_weights: int) -> np.ndarray:
    """CDF over ``num_weights // 100`` (at least 1) bins on [−100, 100] of the pairwise sums
    ``log_input[i] + log_gradient[j]`` (the log-eigenvalues of A ⊗ G); NaN if none is in range."""
    bins = max(1, num_weights // 100)
    log_eigenvalues = np.add.outer(log_input, log_gradient).ravel()
    counts, _ = np.histogram(log_eigenvalues, bins=bins, range=LOG_RANGE)
    total = counts.sum()
    if total == 0:
        return np.full(bins, np.nan, np.float32)
    return (np.cumsum(counts) / total).astype(np.float32)


def layer_cdf(input_covariance: np.ndarray, gradient_covariance: np.ndarray) -> np.ndarray:
    """The CDF of one layer from its factors; NaN everywhere if a factor is not finite."""
    num_weights = input_covariance.shape[0] * gradient_covariance.shape[0]
    if not (np.isfinite(input_covariance).all() and np.isfinite(gradient_covariance).all()):
        return np.full(max(1, num_weights // 100), np.nan, np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):  # λ ≤ 0 → −inf / NaN: below the range, or invalid
        log_a = np.log(np.linalg.eigvalsh(input_covariance))
        log_g = np.log(np.linalg.eigvalsh(gradient_covariance))
    return spectrum_cdf(log_a, log_g, num_weights)


def kronecker_factors(task: Task, activation: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(A, G)`` per weight layer (Linear and Conv2d, in module order) at initialisation."""
    import torch
    from torch import nn

    try:
        from curvlinops import KFACLinearOperator
    except ImportError as error:
        raise ActlangError("Fisher features need curvlinops: pip install 'actlang[search]'") from error
    torch.manual_seed(INIT_SEED)
    model = task.build(activation)
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    params = [p for _, m in layers for p in m.parameters()]
    inputs, labels = task.batch()
    operator = KFACLinearOperator(
        model, nn.CrossEntropyLoss(), params, [(inputs, labels)],
        fisher_type="mc", mc_samples=1, separate_weight_and_bias=False, check_deterministic=False,
    )
    operator.compute_kronecker_factors()
    state = operator.state_dict()
    inputs_cov, gradients_cov = state["input_covariances"], state["gradient_covariances"]
    return [(_numpy(inputs_cov[name]), _numpy(gradients_cov[name])) for name, _ in layers]


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().double().cpu().numpy()


def fisher_feature(task: Task, activation: str) -> tuple[np.ndarray, bool]:
    """One candidate's feature vector and whether it is valid (finite, every layer in range)."""
    try:
        factors = kronecker_factors(task, activation)
    except ActlangError:  # a user's error (a bad name, no curvlinops), not an invalid candidate
        raise
    except (RuntimeError, ValueError, ArithmeticError, np.linalg.LinAlgError):
        return np.empty(0, np.float32), False  # the network cannot even be differentiated: invalid
    vector = np.concatenate([layer_cdf(a, g) for a, g in factors]) if factors else np.empty(0, np.float32)
    return vector, bool(len(vector)) and bool(np.isfinite(vector).all())


def fisher_features(
    task: Task | str, names: Sequence[str], progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(features [n, width] float32, valid [n] bool)`` for ``names`` on ``task``.

    Invalid rows are NaN. All valid rows have the same width: the layer shapes fix the bins.
    """
    from actlang.search.tasks import load_task

    task = load_task(task)
    vectors, valid = [], []
    for name in names:
        vector, ok = fisher_feature(task, name)
        vectors.append(vector)
        valid.append(ok)
        if progress is not None:
            progress(1)
    width = max((len(v) for v in vectors), default=0)
    out = np.full((len(vectors), width), np.nan, np.float32)
    for row, (vector, ok) in enumerate(zip(vectors, valid, strict=True)):
        if ok and len(vector) == width:
            out[row] = vector
    return out, np.array([ok and len(v) == width for v, ok in zip(vectors, valid, strict=True)], bool)
