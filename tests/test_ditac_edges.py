"""The lookup path at the domain's ends and after updates autograd does not see.

- With ``zero_boundary=false`` T(b) ≠ b, so the last interval and the identity above b differ by
  T(b) − b at b: which side of b an input lies on decides its piece, not the rounding of
  ``(x − a)·s`` (an input an ulp below b used to read the identity, one above it the last interval).
- The inference table cache is keyed by θ's values: updates through ``theta.data`` move no
  version counter, and ``torch.func.functional_call`` may place a new θ at a freed one's address.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

import actlang
from actlang import kernels
from actlang.cpab import lookup_autograd
from actlang.cpab.module import CPABActivation
from actlang.errors import ActlangError, HyperparameterError

CLOSED = [
    "cpab[a=-3, b=3, cells=6, zero_boundary=false](x)",
    "cpab[a=-3, b=0.7, cells=4, zero_boundary=false](x)",
    "ditac[cells=6, zero_boundary=false](x)",
    "ge_ditac[b=2.5, cells=6, zero_boundary=false](x)",
    "l_ditac[a=-2, b=3, cells=6, slope=0.1, zero_boundary=false](x)",
    "l_ditac[a=1, b=3, cells=6, slope=0.1, zero_boundary=false](x)",  # 0 ∉ [a, b]: masked outside
]
needs_cxx = pytest.mark.skipif(kernels.cpp_compiler() is None, reason="no C++ compiler for inductor")


def pair(text: str, dtype: torch.dtype, fuse: bool | str = False, seed: int = 2):
    """The lookup module of ``text`` and its ``exact=true`` twin, both with one θ (a prior-like
    sample large enough that T(b) − b is of order 1)."""
    twin = text.replace("](", ", exact=true](") if "[" in text else text.replace("(x)", "[exact=true](x)", 1)
    modules = [actlang.compile(t, fuse=fuse).to(dtype) for t in (text, twin)]
    assert warp_of(modules[1]).exact and not warp_of(modules[0]).exact
    warp = warp_of(modules[0])
    theta = torch.from_numpy(np.random.default_rng(seed).normal(0.0, 0.8, warp.theta.shape))
    with torch.no_grad():
        for m in modules:
            warp_of(m).theta.copy_(theta)
    return modules


def warp_of(module: torch.nn.Module) -> CPABActivation:
    (warp,) = [m for m in module.modules() if isinstance(m, CPABActivation)]
    return warp


def near_ends(warp: CPABActivation, dtype: torch.dtype) -> torch.Tensor:
    """Each end and the three representable numbers on either side of it."""
    points = []
    for end in (warp.lo, warp.hi):
        at = torch.tensor(end, dtype=dtype)
        below, above = [at], [at]
        for _ in range(3):
            below.append(torch.nextafter(below[-1], torch.tensor(-np.inf, dtype=dtype)))
            above.append(torch.nextafter(above[-1], torch.tensor(np.inf, dtype=dtype)))
        points += [*below[1:], at, *above[1:]]
    return torch.stack(points)


@pytest.mark.parametrize("text", CLOSED)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inputs_next_to_an_open_end_read_the_piece_of_their_side(text, dtype) -> None:
    lookup, exact = pair(text, dtype)
    warp = warp_of(lookup)
    x = near_ends(warp, dtype)
    with torch.no_grad():
        got, want = lookup(x), exact(x)
        jump = (exact(torch.tensor([warp.hi], dtype=dtype)) - warp.hi).abs().item()
    assert jump > 0.05  # the two pieces at b really differ: a wrong piece cannot pass
    torch.testing.assert_close(got, want, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("text", CLOSED[::2])
def test_theta_gradients_next_to_an_open_end_follow_the_side(text) -> None:
    """The backward finds the same pieces: θ's gradient from inputs just inside b is the last
    interval's (non-zero), from inputs just outside it nothing (the identity above b)."""
    lookup, exact = pair(text, torch.float64)
    warp = warp_of(lookup)
    hi = torch.tensor(warp.hi, dtype=torch.float64)
    for side, want_zero in ((-np.inf, False), (np.inf, True)):
        x = torch.nextafter(hi, torch.tensor(side, dtype=torch.float64)).reshape(1)
        grads = []
        for m in (lookup, exact):
            warp_of(m).theta.grad = None
            m(x).sum().backward()
            grads.append(warp_of(m).theta.grad)
        assert bool((grads[0] == 0).all()) == want_zero
        torch.testing.assert_close(grads[0], grads[1], rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("text", [CLOSED[2], CLOSED[5]])
def test_the_kernels_functions_read_the_same_pieces(monkeypatch, text) -> None:
    """The kernels compile the functions the eager path runs (here run uncompiled): same values
    and gradients next to both ends."""
    monkeypatch.setattr(kernels, "BACKEND", "eager")
    fused, plain = (pair(text, torch.float32, fuse=f)[0] for f in (True, False))
    x = near_ends(warp_of(fused), torch.float32).repeat(kernels.MIN_NUMEL // 14 + 1)
    results = []
    for m in (fused, plain):
        leaf = x.clone().requires_grad_()
        y = m(leaf)
        y.sum().backward()
        results.append((y.detach(), leaf.grad, warp_of(m).theta.grad))
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@needs_cxx
def test_built_kernels_read_the_side_of_an_open_end() -> None:
    """The inductor kernels (FMA contraction on) agree with the eager pieces next to b."""
    fused, exact = pair(CLOSED[2], torch.float32, fuse=True)
    x = near_ends(warp_of(fused), torch.float32).repeat(kernels.MIN_NUMEL // 14 + 1)
    with torch.no_grad():
        got, want = fused(x), exact(x)
    spec = (-3.0, 3.0, 1, 0.0, True, False)
    assert any(hasattr(f, "run") for f in lookup_autograd.compiled(spec)[0].runners.values())
    torch.testing.assert_close(got, want, rtol=2e-3, atol=2e-3)


UPDATES = {
    "data.add_": lambda theta: theta.data.add_(0.7),
    "data.copy_": lambda theta: theta.data.copy_(torch.full_like(theta, -0.4)),
    "data.clamp_": lambda theta: theta.data.clamp_(-0.1, 0.1),
    "data = ": lambda theta: setattr(theta, "data", theta.data * 2.0 + 0.3),
}


@pytest.mark.parametrize("update", list(UPDATES))
@pytest.mark.parametrize("text", ["ditac(x)", "cpab[a=-2, b=2, cells=4, zero_boundary=false](x)"])
def test_inference_sees_updates_through_theta_data(update, text) -> None:
    lookup, exact = pair(text, torch.float32)
    x = torch.linspace(-4, 4, 41)
    with torch.no_grad():
        before = lookup(x)  # caches the table
        for m in (lookup, exact):
            UPDATES[update](warp_of(m).theta)
        after, want = lookup(x), exact(x)
    assert (after - before).abs().max() > 1e-2  # the update moved the function
    torch.testing.assert_close(after, want, rtol=1e-3, atol=1e-3)
    lookup.eval()
    with torch.inference_mode():
        torch.testing.assert_close(lookup(x), want, rtol=1e-3, atol=1e-3)


def test_functional_call_under_no_grad_uses_each_given_theta() -> None:
    """Each θ a fresh tensor over one numpy buffer (as a search loop writing its candidates into
    one array would make them): same address, version counter 0 every time, new values."""
    lookup, exact = pair("ditac(x)", torch.float64)
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    name = next(n for n, _ in lookup.named_parameters())
    buffer = np.zeros(warp_of(lookup).theta.shape)
    for seed in range(4):
        buffer[:] = np.random.default_rng(seed).normal(0.0, 0.8, buffer.shape)
        theta = torch.from_numpy(buffer)
        with torch.no_grad():
            got = functional_call(lookup, {name: theta}, (x,))
            want = functional_call(exact, {name: theta}, (x,))
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_an_unchanged_theta_keeps_its_cached_table() -> None:
    lookup, _ = pair("ditac(x)", torch.float32)
    warp = warp_of(lookup)
    x = torch.linspace(-3, 3, 13)
    with torch.no_grad():
        lookup(x)
        cached = warp.__dict__["_pieces_cache"]
        warp.theta.add_(0.0)  # moves the version counter, not the values
        lookup(x)
    assert warp.__dict__["_pieces_cache"] is cached


@pytest.mark.parametrize("text", ["cpab[a=-1e308, b=1e308, cells=4](x)", "l_ditac[a=-9e307, b=9e307](x)"])
def test_a_domain_wider_than_float64_is_refused(text) -> None:
    with pytest.raises(HyperparameterError, match="finite"):
        actlang.compile(text)


@pytest.mark.parametrize("method", ["velocity", "transform", "inverse", "derivative"])
def test_field_methods_refuse_a_wrong_channel_count_in_actlangs_words(method) -> None:
    warp = warp_of(actlang.compile("ditac(x)", channels=3))
    with pytest.raises(ActlangError, match="expected 3 channels along dim 1"):
        getattr(warp, method)(torch.randn(2, 5))
