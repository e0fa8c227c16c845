"""The 1-D CPA velocity space on [0, 1]: constraint matrix, orthonormal basis, smoothness prior.

Numpy only (float64), so the numpy reference and ``actlang.evaluate`` use it without torch.

``[0, 1]`` is split into ``nc`` equal cells with vertices ``x_k = k/nc``. In cell ``c`` the
velocity is ``v(x) = a_c·x + b_c``; the parameters are stacked as
``A = (a_0, b_0, a_1, b_1, ..., a_{nc-1}, b_{nc-1})``. Continuous fields satisfy ``L·A = 0``
with one row per interior vertex (``a_{k-1}x_k + b_{k-1} − a_k x_k − b_k = 0``) and, for zero
boundary, the rows ``v(0) = b_0 = 0`` and ``v(1) = a_{nc-1} + b_{nc-1} = 0``. ``A = B·θ`` with
``B`` an orthonormal basis of the null space of ``L``: ``dim θ = nc − 1`` (zero boundary) or
``nc + 1``.
"""

from __future__ import annotations

import functools

import numpy as np

from actlang.errors import HyperparameterError
from actlang.exact import exact_cache


def theta_dim(cells: int, zero_boundary: bool = True) -> int:
    """dim θ: ``cells − 1`` with zero boundary, ``cells + 1`` without."""
    return cells - 1 if zero_boundary else cells + 1


def constraint_matrix(cells: int, zero_boundary: bool = True) -> np.ndarray:
    """``L`` (rows × 2·cells): continuity at interior vertices, plus v(0) = v(1) = 0 if asked."""
    rows = []
    for k in range(1, cells):
        row = np.zeros(2 * cells)
        x_k = k / cells
        row[2 * (k - 1) : 2 * k] = (x_k, 1.0)
        row[2 * k : 2 * k + 2] = (-x_k, -1.0)
        rows.append(row)
    if zero_boundary:
        first, last = np.zeros(2 * cells), np.zeros(2 * cells)
        first[1] = 1.0  # v(0) = b_0
        last[-2:] = 1.0  # v(1) = a_{nc-1} + b_{nc-1}
        rows += [first, last]
    return np.array(rows).reshape(-1, 2 * cells)


def vertex_map(cells: int, zero_boundary: bool = True) -> np.ndarray:
    """``M`` (2·cells × dim θ): the cell parameters of the field with given vertex velocities.

    The field with velocity ``w_k`` at vertex ``k`` (linear in between) has
    ``a_c = (w_{c+1} − w_c)·nc`` and ``b_c = w_c − a_c·x_c``. With zero boundary the free
    velocities are those of the interior vertices. ``M`` has full column rank and ``L·M = 0``.
    """
    free = range(1, cells) if zero_boundary else range(cells + 1)
    columns = []
    for k in free:
        w = np.zeros(cells + 1)
        w[k] = 1.0
        slopes = np.diff(w) * cells
        intercepts = w[:-1] - slopes * np.arange(cells) / cells
        columns.append(np.stack([slopes, intercepts], axis=1).reshape(-1))
    return np.array(columns).T.reshape(2 * cells, -1)


@functools.cache
def _basis(cells: int, zero_boundary: bool) -> np.ndarray:
    # The polar factor U·Vᵀ of M = U·S·Vᵀ: orthonormal, spans null(L) = range(M), and — unlike
    # an arbitrary SVD null-space basis of L or a pivoted QR — unique, so θ means the same on
    # every LAPACK build.
    u, _, vt = np.linalg.svd(vertex_map(cells, zero_boundary), full_matrices=False)
    basis = u @ vt
    basis.setflags(write=False)
    return basis


def basis(cells: int, zero_boundary: bool = True) -> np.ndarray:
    """``B`` (2·cells × dim θ), float64, orthonormal columns spanning null(L); cached per shape."""
    return _basis(int(cells), bool(zero_boundary))


# The largest condition number of the prior's covariance whose inverse keeps float64 meaning
# (libcpab's settings give at most ~1e7; a length scale past ~1e3 makes the slopes' correlations
# all 1 and the covariance singular).
MAX_CONDITION = 1e12


@exact_cache()  # floats keyed bit for bit (actlang.exact)
def _prior(cells: int, zero_boundary: bool, length: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    squared = scale * scale  # scale² and 1/scale² must be normal floats for Σ and Σ⁻¹ to exist
    if not (np.isfinite(squared) and squared >= np.finfo(np.float64).tiny and np.isfinite(1.0 / squared)):
        raise HyperparameterError(
            f"prior_scale={scale:g} has no float64 prior: its square over- or underflows",
            hint="use a prior_scale between 1e-150 and 1e150",
        )
    centres = (np.arange(cells) + 0.5) / cells
    distance = np.abs(centres[:, None] - centres[None, :])
    with np.errstate(all="ignore"):  # length² may under/overflow: correlations 0 or 1 off the diagonal
        block = np.where(distance == 0.0, 1.0, np.exp(-distance / (2 * length * length)))
    cov_a = np.zeros((2 * cells, 2 * cells))
    cov_a[0::2, 0::2] = block  # slopes with slopes
    cov_a[1::2, 1::2] = block  # intercepts with intercepts; no cross terms
    b = basis(cells, zero_boundary)
    correlation = b.T @ cov_a @ b
    correlation = (correlation + correlation.T) / 2
    if not np.linalg.cond(correlation) <= MAX_CONDITION:
        raise HyperparameterError(
            f"prior_length={length:g} makes the smoothness prior's covariance singular for {cells} cells",
            hint="use a smaller prior_length (libcpab's default is 0.1)",
        )
    cov = squared * correlation
    precision = np.linalg.inv(correlation) / squared
    precision = (precision + precision.T) / 2
    for array in (cov, precision):
        array.setflags(write=False)
    return cov, precision


def prior_covariance(cells: int, zero_boundary: bool = True, length: float = 0.1, scale: float = 1.0) -> np.ndarray:
    """Σ_θ = Bᵀ·Σ_A·B, with ``Σ_A[i, j] = scale²·exp(−|c_i − c_j| / (2·length²))`` between the
    slopes of cells ``i, j`` (centres ``c``) and likewise between intercepts (libcpab's prior)."""
    return _prior(int(cells), bool(zero_boundary), float(length), float(scale))[0]


def prior_precision(cells: int, zero_boundary: bool = True, length: float = 0.1, scale: float = 1.0) -> np.ndarray:
    """Σ_θ⁻¹, the matrix of the smoothness regulariser ``θᵀ·Σ_θ⁻¹·θ``."""
    return _prior(int(cells), bool(zero_boundary), float(length), float(scale))[1]


def cell_parameters(theta: np.ndarray, cells: int, zero_boundary: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Slopes ``a`` and intercepts ``b`` (each ``[..., cells]``) of the field ``A = B·θ``."""
    theta = np.asarray(theta, dtype=np.float64)
    flat = theta @ basis(cells, zero_boundary).T
    pairs = flat.reshape(*theta.shape[:-1], cells, 2)
    return pairs[..., 0], pairs[..., 1]
