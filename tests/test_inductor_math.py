"""expm1, ELU and SELU where TorchInductor compiles them (actlang.inductor_math).

Inductor's vectorised CPU code computes expm1 as exp(x) − 1: compiled, expm1(−1e-8) was 0 in
float32, and the fused kernel of ``asinh(elu(silu(x)))`` was wrong by 100 % near 0 in float32 and
by 7.5e-9 in float64. These tests compile (inductor, a few seconds each, cached on disk).
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

import actlang
from actlang import inductor_math, kernels

needs_cxx = pytest.mark.skipif(kernels.cpp_compiler() is None, reason="no C++ compiler for inductor")
DTYPES = [torch.float32, torch.float64]


def points(dtype: torch.dtype) -> torch.Tensor:
    """±(1e-30 … 100), the series' cutoff on both sides, and ±0."""
    magnitudes = torch.cat([torch.logspace(-30, 2, 4001, dtype=torch.float64), torch.tensor([0.4999, 0.5, 0.5001])])
    return torch.cat([magnitudes, -magnitudes, torch.tensor([0.0, -0.0], dtype=torch.float64)]).to(dtype)


def ulps(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest error in units of the dtype's epsilon, relative to the float64 value."""
    scale = want.abs().clamp_min(torch.finfo(got.dtype).tiny)
    finite = torch.isfinite(want.to(got.dtype))
    return float(((got.double() - want).abs() / scale)[finite].max() / torch.finfo(got.dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_series_form_is_within_an_ulp_of_expm1(dtype) -> None:
    x = points(dtype)
    got = inductor_math.expm1_series(x)
    assert ulps(got, torch.expm1(x.double())) <= 1.5
    special = torch.tensor([math.inf, -math.inf, math.nan, -0.0, 0.0], dtype=dtype)
    got = inductor_math.expm1_series(special)
    torch.testing.assert_close(got, torch.expm1(special), equal_nan=True)
    assert torch.signbit(got)[3] and not torch.signbit(got)[4]


@needs_cxx
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_expm1_and_elu_stay_accurate_near_zero(dtype) -> None:
    x = points(dtype)
    want = torch.expm1(x.double())
    assert ulps(torch.compile(inductor_math.expm1)(x), want) <= 1.5
    assert ulps(torch.compile(torch.expm1)(x), want) > 1e3  # inductor's own form (why this module exists)
    for ours, theirs in ((lambda t: inductor_math.elu(t, 1.3), lambda t: F.elu(t, 1.3)), (inductor_math.selu, F.selu)):
        assert ulps(torch.compile(ours)(x), theirs(x.double())) <= 3.0


@needs_cxx
def test_compiled_gradients_are_finite_and_follow_autograd_at_zero() -> None:
    """The discarded branch of the series cannot overflow into a NaN gradient; ELU's gradient at 0
    is α, as ATen's."""
    x = torch.tensor([-1e4, -50.0, -0.3, -1e-7, 0.0, 1e-7, 0.3, 50.0, 80.0], dtype=torch.float32, requires_grad=True)
    (grad,) = torch.autograd.grad(torch.compile(inductor_math.expm1)(x).sum(), x)
    torch.testing.assert_close(grad, torch.exp(x.detach()))
    (grad,) = torch.autograd.grad(torch.compile(lambda t: inductor_math.elu(t, 1.3))(x).sum(), x)
    (want,) = torch.autograd.grad(F.elu(x, 1.3).sum(), x)
    torch.testing.assert_close(grad, want)


def test_scripted_and_eager_calls_are_atens() -> None:
    x = torch.tensor([-2.0, -1e-8, 0.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript's deprecation notice
        for function, aten in ((inductor_math.expm1, torch.expm1), (inductor_math.selu, F.selu)):
            assert torch.equal(torch.jit.script(function)(x), aten(x))
            assert torch.equal(function(x), aten(x))
        assert torch.equal(torch.jit.script(inductor_math.elu)(x, 0.5), F.elu(x, 0.5))


@needs_cxx
@pytest.mark.parametrize("text", ["asinh(elu(silu(x)))", "celu[alpha=0.7](x) * 2", "expm1(x) + x", "selu(x) - x"])
def test_fused_kernels_match_the_unfused_path_near_zero(text) -> None:
    """The default fused kernels (TorchInductor) near 0, value and gradient, float32 and float64."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused, plain = actlang.compile(text, fuse=True), actlang.compile(text, fuse=False)
    for dtype in DTYPES:
        x = torch.cat([points(dtype)[:8006:40], torch.linspace(-1e-3, 1e-3, 1 << 16, dtype=dtype)]).requires_grad_()
        y, want = fused(x), plain(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        (want_grad,) = torch.autograd.grad(want.sum(), x)
        tol = 8 * torch.finfo(dtype).eps
        torch.testing.assert_close(y, want, rtol=tol, atol=torch.finfo(dtype).tiny)
        torch.testing.assert_close(grad, want_grad, rtol=tol, atol=torch.finfo(dtype).tiny)


def test_selu_constants_are_the_registrys() -> None:
    """The compiled SELU's constants (repeated so that the registry imports no torch) agree with
    the registry's and with F.selu's."""
    from actlang.definitions import activations

    assert (inductor_math.SELU_ALPHA, inductor_math.SELU_SCALE) == (activations.SELU_ALPHA, activations.SELU_SCALE)
    x = torch.tensor([-1.5, -0.25, 0.0, 2.0], dtype=torch.float64)
    expected = activations.SELU_SCALE * torch.where(x > 0, x, activations.SELU_ALPHA * torch.expm1(x))
    torch.testing.assert_close(F.selu(x), expected, rtol=1e-15, atol=0)


def test_exported_files_keep_expm1_accurate_without_actlang(tmp_path) -> None:
    """Files of expressions with expm1, ELU, SELU, CELU and ELiSH (TorchScript: ATen's kernels;
    torch.export and ONNX: the series form) run in a process without actlang, values near 0
    included, and the exported file's input gradient too."""
    from tests.export_cases import load_elsewhere
    from tests.test_compiler_export import onnx_available

    text = "elu[alpha=0.7](x) + selu(x) + celu(x) + expm1(x) + elish(x)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = actlang.compile(text)
        formats = ["torchscript", "exported"] + (["onnx"] if onnx_available() else [])
        files = {f: actlang.export(module, tmp_path / f"act.{f}", format=f, shape=(4, 6)) for f in formats}
    near = torch.tensor([-1e-8, 1e-7, -3e-5, 2e-4, -0.3, 0.49, -0.51, 3.0, -20.0])
    x = torch.cat([near, torch.randn(39, generator=torch.Generator().manual_seed(0))]).reshape(6, 8)
    torch.save(x, tmp_path / "x.pt")
    jobs = [{"file": str(path), "format": f, "x": str(tmp_path / "x.pt")} for f, path in files.items()]
    leaf = x.clone().requires_grad_()
    want = module(leaf)
    want.backward(torch.ones_like(want))
    for job, got in zip(jobs, load_elsewhere(jobs, tmp_path), strict=True):
        assert "error" not in got, got.get("error")
        torch.testing.assert_close(got["y"], want.detach(), rtol=2e-6, atol=1e-12, msg=job["format"])
        if job["format"] == "exported":
            torch.testing.assert_close(got["x"], leaf.grad, rtol=2e-6, atol=1e-12)
