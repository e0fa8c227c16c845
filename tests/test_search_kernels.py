"""The float32 search kernels are the registry primitives, with TensorFlow's float32 details."""

from __future__ import annotations

import numpy as np
import pytest

import actlang
from actlang import search
from actlang.search.tf_kernels import kernel

F32 = np.float32
GRID = np.concatenate([np.linspace(-30, 30, 2401), np.geomspace(1e-6, 1e3, 200), -np.geomspace(1e-6, 1e3, 200)])
UNARY = search.AQUASURF_UNARY + search.AQUASURF_EXTRA_UNARY


@pytest.mark.parametrize("name", UNARY)
def test_unary_kernels_match_the_registry_reference(name):
    call = actlang.parse(f"{name}(x)")
    xs = GRID.astype(F32)
    ours = kernel(call.name, call.hyper)(xs)
    reference = actlang.evaluate(call, xs.astype(np.float64))
    with np.errstate(over="ignore"):
        rounded = reference.astype(F32)
    assert ours.dtype == F32
    assert (np.isnan(ours) == np.isnan(rounded)).all()
    both = np.isfinite(ours) & np.isfinite(rounded)
    assert (ours[~both] == rounded[~both]).all() or np.isnan(ours[~both]).all()
    # A few float32 ulps, or an absolute 1e-6 where a formula like exp(x) - 1 loses digits near 0.
    assert np.allclose(ours[both], reference[both], rtol=4e-6, atol=1e-6), name


@pytest.mark.parametrize("name", search.AQUASURF_BINARY + search.AQUASURF_NARY)
def test_operator_kernels_match_the_registry_reference(name):
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=500).astype(F32) * 3, rng.normal(size=500).astype(F32) * 3
    args = (np.abs(a), b) if name == "pow" else (a, b)
    ours = kernel(name)(*args)
    expected = actlang.lookup(name).numpy(*(arg.astype(np.float64) for arg in args)).astype(F32)
    assert np.allclose(ours, expected, rtol=2e-7, atol=0, equal_nan=True)


def test_tensorflow_float32_details():
    zero, minus_zero, nan = F32(0), F32(-0.0), F32(np.nan)
    # Measured on TensorFlow 2.15's vectorised CPU kernels (1,000-element tensors).
    assert not np.signbit(kernel("relu")(np.array([minus_zero])))[0]  # relu(-0) = +0
    assert np.isnan(kernel("relu")(np.array([nan])))[0]
    assert not np.signbit(kernel("max")(np.array([minus_zero]), np.array([zero])))[0]  # ties: second
    assert np.signbit(kernel("max")(np.array([zero]), np.array([minus_zero])))[0]
    assert np.signbit(kernel("min")(np.array([zero]), np.array([minus_zero])))[0]
    assert np.signbit(kernel("max_n")(*map(np.array, ([zero], [minus_zero], [minus_zero]))))[0]
    assert np.isnan(kernel("max")(np.array([F32(1)]), np.array([nan])))[0]
    assert np.isnan(kernel("min")(np.array([nan]), np.array([F32(1)])))[0]
    assert not np.signbit(kernel("sum_n")(*[np.array([minus_zero])] * 3))[0]  # reduce_sum starts at +0
    xs = np.array([F32(-0.5)])
    assert kernel("elu", (("alpha", 1.0),))(xs)[0] == np.exp(xs)[0] - F32(1)  # exp(x) - 1, not expm1
    assert kernel("hard_sigmoid")(np.array([F32(1.0)]))[0] == F32(1.0) * F32(0.2) + F32(0.5)
    assert kernel("pow")(np.array([F32(0.3)]), np.array([F32(1)]))[0] == F32(0.3)  # powf is exact here
    softplus = kernel("softplus", (("beta", 1.0),))
    assert softplus(np.array([F32(20)]))[0] == F32(20) and softplus(np.array([F32(-20)]))[0] == np.exp(F32(-20))


def test_primitives_without_a_kernel_use_the_reference():
    xs = np.linspace(0.1, 4, 50).astype(F32)
    assert np.allclose(kernel("log")(xs), np.log(xs.astype(np.float64)), rtol=1e-7)
    assert kernel("log")(xs).dtype == F32
