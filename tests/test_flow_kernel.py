"""The CPAB flow at the table's nodes as a TorchInductor kernel per step (actlang.cpab.flow_kernel).

Most tests run the step's function uncompiled (``kernels.BACKEND = "eager"``: the same torch code
that the kernel builder exports); ``test_built_kernel_*`` build the real kernel once per machine
(about 15 s the first time; the file is reused after that).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from actlang import kernels
from actlang.cpab import flow_kernel, integrate, nodes, table, tessellation
from actlang.cpab.module import DiTAC

needs_cxx = pytest.mark.skipif(kernels.cpp_compiler() is None, reason="no C++ compiler for inductor")


def field(cells: int, rows: int, scale: float, bounded: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and intercepts ``[rows, cells]`` of a random continuous CPA field."""
    basis = tessellation.basis(cells, bounded)
    theta = np.random.default_rng(seed).normal(0, scale, (rows, basis.shape[1]))
    pairs = (theta @ basis.T).reshape(rows, cells, 2)
    return np.ascontiguousarray(pairs[..., 0]), np.ascontiguousarray(pairs[..., 1])


CASES = [(16, 1, 1.0, True), (16, 3, 3.0, False), (8, 2, 10.0, True), (4, 2, 0.0, False), (6, 4, 0.3, True)]


@pytest.mark.parametrize("per_step", [False, True], ids=["steps-per-call", "step-per-call"])
@pytest.mark.parametrize(("cells", "rows", "scale", "bounded"), CASES)
def test_kernel_steps_match_numpy(monkeypatch, cells, rows, scale, bounded, per_step) -> None:
    """ψ, the end speeds and the field gradient as numpy's flow gives them (the same steps): the
    kernel of several steps per call (below MIN_LANES lanes) and the step kernel (from it on)."""
    monkeypatch.setattr(kernels, "BACKEND", "eager")
    if per_step:
        monkeypatch.setattr(flow_kernel, "MIN_LANES", 1)
    slopes, intercepts = field(cells, rows, scale, bounded, seed=cells + rows)
    u = np.broadcast_to(np.linspace(0.0, 1.0, 129), (rows, 129))
    psi, speed, steps = nodes.flow_with_partials(u, slopes, intercepts, 1.0, bounded)
    got_psi, got_speed, got_steps = flow_kernel.flow_with_kernel(u, slopes, intercepts, 1.0, bounded, "on")
    per_call = 1 if per_step else flow_kernel.STEPS_PER_CALL
    assert len(got_steps) == -(-len(steps) // per_call) * per_call  # calls until every lane has stopped
    np.testing.assert_allclose(got_psi, psi, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(got_speed, speed, rtol=1e-13, atol=1e-13 * max(1.0, np.abs(speed).max()))
    weight = np.random.default_rng(1).normal(size=u.shape)
    for got, want in zip(nodes.field_gradient(got_steps, got_speed, weight, slopes.shape),
                         nodes.field_gradient(steps, speed, weight, slopes.shape), strict=True):  # fmt: skip
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11 * max(1.0, np.abs(want).max()))


def test_lanes_that_stop_leave_the_arrays_once_most_have_stopped(monkeypatch) -> None:
    """Steps run on every lane until fewer than half still move; then on the moving ones only."""
    monkeypatch.setattr(kernels, "BACKEND", "eager")
    monkeypatch.setattr(flow_kernel, "MIN_LANES", 2 * 257)  # the step kernel from 514 lanes on
    slopes, intercepts = field(8, 2, 3.0, True, seed=12)
    u = np.broadcast_to(np.linspace(0.0, 1.0, 257), (2, 257))
    _, _, steps = flow_kernel.flow_with_kernel(u, slopes, intercepts, 1.0, True, "on")
    sizes = [len(cell) for _, cell, *_ in steps]
    assert len(steps) >= 3 and sizes[0] == 2 * 257 and sizes[-1] < sizes[0]
    assert steps[0][0] is None  # every lane
    lanes, cell = steps[-1][0], steps[-1][1]
    assert np.all(cell // 8 == lanes // 257)  # each lane still reads its own row's cells


def test_flow_matches_the_closed_form(monkeypatch) -> None:
    monkeypatch.setattr(kernels, "BACKEND", "eager")
    slopes, intercepts = field(8, 3, 2.0, False, seed=4)
    u = np.broadcast_to(np.linspace(0.0, 1.0, 65), (3, 65))
    psi, _, _ = flow_kernel.flow_with_kernel(u, slopes, intercepts, 1.0, False, "on")
    want, _ = integrate.integrate(torch.from_numpy(u.copy()), torch.from_numpy(slopes), torch.from_numpy(intercepts),
                                  1.0, False)  # fmt: skip
    np.testing.assert_allclose(psi, want.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(("lanes", "name"), [(33, "cpab_flow_steps"), (flow_kernel.MIN_LANES, "cpab_flow_step")])
def test_modes(monkeypatch, lanes, name) -> None:
    """off: numpy; built: the kernel only if built (no build asked); auto: a background build of
    the kernel of several steps below MIN_LANES lanes, of the step kernel from it on."""
    slopes, intercepts = field(16, 1, 1.0, True, seed=2)
    u = np.linspace(0.0, 1.0, lanes)[None]
    requests, ran = [], []
    monkeypatch.setattr(kernels.Kernel, "built", lambda self, args: False)
    monkeypatch.setattr(kernels, "prepare", lambda calls, wait: requests.append((calls[0][0].name, wait)) or False)
    assert flow_kernel.flow_with_kernel(u, slopes, intercepts, 1.0, True, "off") is None
    assert flow_kernel.flow_with_kernel(u, slopes, intercepts, 1.0, True, "built") is None
    assert requests == []
    assert flow_kernel.flow_with_kernel(u, slopes, intercepts, 1.0, True, "auto") is None
    assert requests == [(name, False)]
    monkeypatch.setattr(kernels.Kernel, "built", lambda self, args: ran.append(self.name) or True)
    run_function = lambda self, *args, **_: ran.append("call") or self.function(*args)
    monkeypatch.setattr(kernels.Kernel, "__call__", run_function)
    assert flow_kernel.flow_with_kernel(u, slopes, intercepts, 1.0, True, "built") is not None
    assert ran[0] == name and "call" in ran
    assert [flow_kernel.mode("auto", n) for n in (1, kernels.MIN_NUMEL)] == ["built", "auto"]
    assert [flow_kernel.mode(f, 1) for f in ("on", "off")] == ["auto", "off"]  # fuse=True: never waited for


@pytest.mark.parametrize("channels", [None, 3])
def test_training_through_the_flow_kernel_matches_numpy(monkeypatch, channels) -> None:
    """A DiTAC step with fuse=True (the step kernel's function) against fuse=False (numpy, eager
    lookup): the same values and gradients."""
    monkeypatch.setattr(kernels, "BACKEND", "eager")
    results = []
    for fusion in ("on", "off"):
        module = DiTAC({"a": -3.0, "b": 3.0, "cells": 6, "grid": 64}, channels, 1).double()
        with torch.no_grad():
            module.theta.copy_(torch.from_numpy(np.random.default_rng(3).normal(0, 0.8, module.theta.shape)))
        module.fusion = fusion
        x = torch.linspace(-4, 4, 60, dtype=torch.float64).reshape(4, 3, 5).requires_grad_()
        y = module(x)
        grads = torch.autograd.grad((y * torch.cos(x)).sum(), (x, module.theta))
        results.append((y.detach(), *grads))
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-11)


def assert_kernel_tables_match_numpy(theta: np.ndarray, spec: tuple) -> list:
    """The tables (to 2e-12 of their largest entry) and θ's gradient (1e-10) through the built
    flow kernels equal numpy's; returns the kernels' steps."""
    compiled = table.table_forward(theta, spec, "on")
    plain = table.table_forward(theta, spec, "off")
    for got, want in zip(compiled[:2], plain[:2], strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-12 * np.abs(want).max())
    weights = np.random.default_rng(1).normal(size=(2, *plain[0].shape))
    got = table.table_backward(*weights, spec, *compiled[2:])
    want = table.table_backward(*weights, spec, *plain[2:])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())
    return compiled[2]


@needs_cxx
def test_built_kernel_matches_numpy_tables() -> None:
    """The compiled step (inductor's vectorised code) gives numpy's table to rounding. Its expm1
    is inductor_math's: inductor's own is exp(x) − 1, which made the tables of a 256-channel
    module differ by 3e-11 relative."""
    basis = tessellation.basis(16, True)
    theta = np.random.default_rng(0).normal(0, 0.5, (64, basis.shape[1]))
    assert_kernel_tables_match_numpy(theta, (basis, -3.0, 3.0, 2048, 1, 0.0, True))


@needs_cxx
@pytest.mark.parametrize(("scale", "bounded"), [(0.5, True), (3.0, False)])
def test_built_steps_kernel_matches_numpy_tables(scale, bounded) -> None:
    """The compiled kernel of several steps (a shared θ's 2,049 lanes; a large θ takes several
    calls) gives numpy's tables and θ gradient to rounding."""
    basis = tessellation.basis(16, bounded)
    theta = np.random.default_rng(7).normal(0, scale, (1, basis.shape[1]))
    steps = assert_kernel_tables_match_numpy(theta, (basis, -3.0, 3.0, 2048, 1, 0.0, bounded))
    assert len(steps) % flow_kernel.STEPS_PER_CALL == 0 and steps[0][0] is None  # the kernel of several steps ran


def test_auto_runs_the_flow_kernel_for_many_channels(monkeypatch) -> None:
    """fuse="auto" at MIN_NUMEL inputs: a per-channel table of MIN_LANES lanes or more goes through
    the step kernel (here its function, uncompiled), a shared θ's 2,049 lanes through the kernel
    of several steps per call. The lookup's kernels count as built: until they are, ``auto`` asks
    for no flow kernel (test_ditac_fused)."""
    monkeypatch.setattr(kernels, "BACKEND", "eager")
    ran = []
    original, built = kernels.Kernel.__call__, kernels.Kernel.built
    spy = lambda self, *args, **options: ran.append(self.name) or original(self, *args, **options)
    monkeypatch.setattr(kernels.Kernel, "__call__", spy)
    monkeypatch.setattr(kernels.Kernel, "built", lambda self, args: self.name.startswith("lookup") or built(self, args))
    for channels, expected in ((8, "cpab_flow_step"), (None, "cpab_flow_steps")):
        ran.clear()
        module = DiTAC({"a": -3.0, "b": 3.0, "cells": 16}, channels, 1)
        module.fusion = "auto"
        x = torch.randn(kernels.MIN_NUMEL // 8, 8, requires_grad=True)
        module(x).sum().backward()
        assert {"cpab_flow_step", "cpab_flow_steps"} & set(ran) == {expected} and "lookup_forward" in ran


def tables_with_one_bad_entry(bad: float, rows: int, bounded: bool, flows: tuple, weights) -> list[tuple]:
    """``(c0, c1, θ gradient)`` of a prior-like θ (``rows`` channels, 16 cells, grid 256) whose
    entry ``[1, 2]`` (``[0, 2]`` for one row) is ``bad``, through each flow mode; ``weights(c0)``:
    the tables' gradients ``[2, ...]``."""
    basis = tessellation.basis(16, bounded)
    theta = np.random.default_rng(0).normal(0, 0.5, (rows, basis.shape[1]))
    theta[min(1, rows - 1), 2] = bad
    spec = (basis, -3.0, 3.0, 256, 1, 0.0, bounded)
    found = []
    for flow in flows:
        c0, c1, *kept = table.table_forward(theta, spec, flow)
        found.append((c0, c1, table.table_backward(*weights(c0), spec, *kept)))
    return found


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e300, -1e300])
def test_hostile_fields_give_what_numpy_gives(monkeypatch, bad) -> None:
    """A θ entry of NaN, ±inf or ±1e300 in one channel: the same NaN pattern in the tables and θ's
    gradient as numpy's flow, the same values elsewhere."""
    monkeypatch.setattr(kernels, "BACKEND", "eager")
    random_weights = lambda c0: np.random.default_rng(1).normal(size=(2, *c0.shape))
    results = tables_with_one_bad_entry(bad, 4, True, ("on", "off"), random_weights)
    for got, want in zip(*results, strict=True):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        finite = np.isfinite(want)
        assert np.array_equal(finite, np.isfinite(got))
        scale = max(1.0, np.abs(want[finite]).max(initial=0.0))
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-10, atol=1e-10 * scale)


def test_torch_compile_runs_the_flow_kernel_in_its_custom_op(monkeypatch) -> None:
    """Under torch.compile the table is one custom op (``actlang::cpab_pieces``) whose ``flow``
    argument selects the step kernel: same values and θ gradient as numpy's flow in eager."""
    monkeypatch.setattr(kernels, "BACKEND", "eager")
    ran = []
    original = kernels.Kernel.__call__
    spy = lambda self, *args, **options: ran.append(self.name) or original(self, *args, **options)
    monkeypatch.setattr(kernels.Kernel, "__call__", spy)
    module = DiTAC({"a": -3.0, "b": 3.0, "cells": 16}, 8, 1).double()
    with torch.no_grad():
        module.theta.copy_(torch.from_numpy(np.random.default_rng(5).normal(0, 0.5, module.theta.shape)))
    x = torch.linspace(-4, 4, 8 * 8, dtype=torch.float64).reshape(8, 8)
    results = []
    for fusion, function in (("auto", torch.compile(module, backend="aot_eager", fullgraph=True)), ("off", module)):
        module.fusion = fusion
        y = function(x)
        (grad,) = torch.autograd.grad((y * torch.cos(x)).sum(), module.theta)
        results.append((y.detach(), grad))
    assert "cpab_flow_step" in ran  # 8 channels of 2,049 nodes: MIN_LANES lanes and more
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("flow", ["off", "on"])
@pytest.mark.parametrize("bad", [1e300, -1e300, float("inf")])
def test_overflowing_fields_warn_nothing(monkeypatch, flow, bad) -> None:
    """θ near float64's max (unbounded field): ψ overflows, the pieces and θ's gradient are
    inf/NaN as the math gives them, and no numpy warning escapes the table's forward or backward."""
    monkeypatch.setattr(kernels, "BACKEND", "eager")
    ones = lambda c0: np.ones((2, *c0.shape))
    found = [(c0, grad) for c0, _, grad in tables_with_one_bad_entry(bad, 1, False, (flow, "off"), ones)]
    for got, want in zip(*found, strict=True):  # the same inf/NaN pattern as numpy's flow
        assert np.array_equal(np.isfinite(got), np.isfinite(want)) and np.array_equal(np.isnan(got), np.isnan(want))
    assert (bad < 0) == np.isfinite(found[0][0]).all()  # ψ overflows, except toward a fixed point
