"""DiTAC's lookup as TorchInductor kernels (``actlang.cpab.lookup_autograd.LookupFunction`` with ``fused``).

Most tests run the kernels' functions through ``torch.compile(backend="eager")`` (dynamo traces
the same code, including the atomic-add formulation of the tables' gradients, without inductor's
C++ build); ``test_inductor_*`` build real inductor kernels for ditac in float32 and float64 (a
few seconds each the first time; inductor caches them on disk), shared through one fixture.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch

import actlang
from actlang import kernels
from actlang.cpab import flow_kernel, lookup_autograd, normal
from actlang.cpab import lookup as lk
from actlang.cpab import module as cpab_module
from actlang.cpab.module import CPAB, DiTAC, GEDiTAC, InfDiTAC, LDiTAC
from actlang.errors import ActlangError

VARIANTS = [
    (CPAB, {"a": -3.0, "b": 3.0}),
    (DiTAC, {"a": -3.0, "b": 3.0}),
    (GEDiTAC, {"b": 3.0}),
    (LDiTAC, {"a": -3.0, "b": 3.0, "slope": 0.05}),
    (LDiTAC, {"a": 1.0, "b": 3.0, "slope": 0.05}),  # 0 ∉ [a, b]: the masked outside
    (InfDiTAC, {"a": -3.0, "b": 3.0, "zero_boundary": False}),
]
IDS = ["cpab", "ditac", "ge_ditac", "l_ditac", "l_ditac_masked", "inf_ditac"]
HARD = [0.0, 3.0, -3.0, 1e4, -1e4, 1e3, -50.0, float("nan"), float("inf"), float("-inf")]
needs_cxx = pytest.mark.skipif(kernels.cpp_compiler() is None, reason="no C++ compiler for inductor")


def build(factory, hp, channels=None, dtype=torch.float64, seed=3, fusion="on", grid=64):
    module = factory({"cells": 6, "grid": grid, **hp}, channels, 1).to(dtype)
    with torch.no_grad():
        theta = np.random.default_rng(seed).normal(0.0, 0.6, module.theta.shape)
        module.theta.copy_(torch.from_numpy(theta))
    module.fusion = fusion
    return module


def inputs(shape, dtype, seed=0):
    """Normal inputs ×4 with the hard points (ends, |x| up to 1e4, NaN, ±inf) in front."""
    x = torch.from_numpy(np.random.default_rng(seed).normal(0.0, 4.0, int(np.prod(shape)))).to(dtype)
    x[: len(HARD)] = torch.tensor(HARD, dtype=dtype)
    return x.reshape(shape)


def run(module, x, weights):
    """Values, input gradient and θ gradient of ``sum(weights · module(x))``."""
    module.theta.grad = None
    leaf = x.detach().clone().requires_grad_()
    y = module(leaf)
    (y * weights).sum().backward()
    return y.detach(), leaf.grad, module.theta.grad.clone()


def compare(fused, plain, x, rtol):
    """Values at every input (NaN where the unfused path gives NaN); gradients at the finite ones
    (a non-finite input's w·x would make the tables' gradients NaN in both, comparing nothing)."""
    with torch.no_grad():
        torch.testing.assert_close(fused(x), plain(x), rtol=rtol, atol=rtol, equal_nan=True)
    finite = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
    weights = torch.from_numpy(np.random.default_rng(1).normal(size=x.shape)).to(x.dtype)
    for got, want in zip(run(fused, finite, weights), run(plain, finite, weights), strict=True):
        assert torch.isfinite(want).all()
        torch.testing.assert_close(got, want, rtol=rtol, atol=rtol)


@pytest.fixture
def eager_backend(monkeypatch: pytest.MonkeyPatch) -> list:
    """Kernels run as their functions, uncompiled; returns the labels of the kernels that ran."""
    monkeypatch.setattr(kernels, "BACKEND", "eager")
    seen: list[str] = []
    original = kernels.Kernel.__call__

    def call(self, *args, **options):
        seen.append(self.label)
        return original(self, *args, **options)

    monkeypatch.setattr(kernels.Kernel, "__call__", call)
    return seen


@pytest.mark.parametrize(("factory", "hp"), VARIANTS, ids=IDS)
@pytest.mark.parametrize("channels", [None, 3])
def test_kernels_match_the_unfused_functions(eager_backend, factory, hp, channels) -> None:
    fused = build(factory, hp, channels)
    plain = build(factory, hp, channels, fusion="off")
    shape = (7, 3, 5) if channels else (105,)
    compare(fused, plain, inputs(shape, torch.float64), rtol=1e-12)
    assert any("forward kernel" in s for s in eager_backend) and any("backward kernel" in s for s in eager_backend)


@pytest.mark.parametrize(("factory", "hp"), VARIANTS[:3], ids=IDS[:3])
def test_kernels_match_the_closed_form_in_float32(eager_backend, factory, hp) -> None:
    """The lookup against ``exact=true`` (closed form per input, float64 inside) to the grid's
    interpolation error, hard inputs included."""
    module = build(factory, hp, dtype=torch.float32, grid=2048)
    exact = build(factory, {**hp, "exact": True}, dtype=torch.float32, grid=2048)
    x = inputs((400,), torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(module(x), exact(x), rtol=1e-4, atol=1e-4, equal_nan=True)
    assert eager_backend


@pytest.mark.parametrize(("shape", "channels"), [((1000,), None), ((10, 3, 33), 3), ((2, 3, 200), 3)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_backward_in_blocks_equals_one_in_one_piece(eager_backend, monkeypatch, shape, channels, dtype) -> None:
    """Past lookup_autograd.BLOCK values the backward runs block by block along the kernels' dim 0
    (rows of channels × inner, whole ones; here blocks of 64, 3 or 1 rows and a short last one):
    the same input gradient, and the same tables' sums up to their order."""
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, channels, dtype=dtype)
    x = inputs(shape, dtype)
    x = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
    weights = torch.from_numpy(np.random.default_rng(6).normal(size=shape)).to(dtype)
    whole = run(module, x, weights)
    monkeypatch.setattr(lookup_autograd, "BLOCK", 64 if channels is None else 100)
    calls = len(eager_backend)
    blocked = run(module, x, weights)
    assert len(eager_backend) - calls > 2  # the forward kernel, then more than one backward block
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    assert torch.equal(blocked[0], whole[0]) and torch.equal(blocked[1], whole[1])
    torch.testing.assert_close(blocked[2], whole[2], rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize(("shape", "channels"), [((0,), None), ((3, 0, 2), None), ((0, 3, 4), 3), ((2, 3, 0), 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_empty_inputs_train_through_the_kernels(eager_backend, shape, channels, dtype) -> None:
    """No values: an empty output, an empty input gradient and a zero θ gradient."""
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, channels, dtype=dtype)
    y, grad_x, grad_theta = run(module, torch.empty(shape, dtype=dtype), 1.0)
    assert y.shape == shape and grad_x.shape == shape
    assert torch.equal(grad_theta, torch.zeros_like(grad_theta))


def test_gradcheck_and_double_backward_through_the_kernels(eager_backend) -> None:
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, channels=2)
    x = torch.from_numpy(np.random.default_rng(2).uniform(-3.5, 3.5, (3, 2, 4))).requires_grad_()
    theta = module.theta.detach().clone().requires_grad_()

    def f(x, t):
        return torch.func.functional_call(module, {"theta": t}, (x,))

    assert torch.autograd.gradcheck(f, (x, theta))
    assert torch.autograd.gradgradcheck(f, (x, theta))
    assert any("backward kernel" in s for s in eager_backend)


def test_auto_runs_small_inputs_without_kernels(eager_backend, monkeypatch) -> None:
    monkeypatch.setattr(flow_kernel, "_KERNELS", {})  # none loaded by earlier tests (a built one would run)
    monkeypatch.setattr(lookup_autograd, "_KERNELS", {})
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, fusion="auto")
    run(module, torch.randn(kernels.MIN_NUMEL - 1, dtype=torch.float64), 1.0)
    assert eager_backend == []  # the eager backend builds nothing, so nothing is built yet
    run(module, torch.randn(kernels.MIN_NUMEL, dtype=torch.float64), 1.0)
    assert len(eager_backend) == 2 and all("lookup" in s for s in eager_backend)  # forward and backward


def test_auto_asks_for_the_flow_kernel_once_the_lookup_kernels_are_built(monkeypatch) -> None:
    """Background builds run one at a time: under ``auto`` the lookup's kernels (20× the eager
    functions) are asked for first, the table flow's kernel only once they are built."""
    monkeypatch.setattr(flow_kernel, "_KERNELS", {})
    monkeypatch.setattr(lookup_autograd, "_KERNELS", {})
    monkeypatch.setattr(kernels, "backend_available", lambda device: True)
    monkeypatch.setattr(kernels, "available", lambda device, fusion: True)
    built: set[str] = set()
    asked: list[str] = []
    monkeypatch.setattr(kernels.Kernel, "built", lambda self, args: self.name in built)
    monkeypatch.setattr(kernels, "prepare", lambda calls, wait: asked.append(calls[0][0].name) or False)
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, fusion="auto")
    x = torch.randn(kernels.MIN_NUMEL, dtype=torch.float64)
    run(module, x, 1.0)
    assert asked == ["lookup_forward", "lookup_backward_weights"]  # no flow kernel asked for yet
    built.update(["lookup_forward", "lookup_backward_weights"])
    asked.clear()
    run(module, x, 1.0)
    assert asked[0] == "cpab_flow_steps"  # the table comes first in a call


@pytest.mark.parametrize("size", [1, 8, 1000, kernels.MIN_NUMEL - 1])
def test_auto_runs_small_inputs_through_kernels_built_already(monkeypatch, size) -> None:
    """Below kernels.MIN_NUMEL inputs ``auto`` uses a kernel that is built already, at any size,
    but asks for no build."""
    monkeypatch.setattr(kernels, "prepare", lambda calls, wait: pytest.fail("a build was requested"))
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, fusion="auto")
    forward = lookup_autograd.compiled((-3.0, 3.0, 1, 0.0, False, False))[0]
    asked = []
    monkeypatch.setattr(type(forward), "built", lambda self, args: asked.append((self.name, args[0].numel())) or False)
    with torch.no_grad():
        module(torch.randn(size, dtype=torch.float64))
    assert asked == [("cpab_flow_steps", 65), ("lookup_forward", size)]  # the table's flow (65 lanes), the lookup
    monkeypatch.setattr(type(forward), "built", lambda self, args: True)
    ran = []
    run_plain = lambda self, *a, wait=True: ran.append(self.name) or self.function(*a)
    monkeypatch.setattr(type(forward), "__call__", run_plain)
    with torch.no_grad():
        y = module(torch.randn(size, dtype=torch.float64))
    assert ran == ["lookup_forward"] and y.shape == (size,)  # the table is cached from the first call


def test_inference_runs_the_forward_kernel_without_an_autograd_node(eager_backend) -> None:
    """no_grad (and inputs needing no gradient) call the forward kernel directly: same values as
    the training path, no graph."""
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, fusion="on")
    x = torch.randn(4, 300, dtype=torch.float64)
    trained = module(x)
    assert trained.grad_fn is not None  # θ wants a gradient
    with torch.no_grad():
        inferred = module(x)
    assert inferred.grad_fn is None
    torch.testing.assert_close(inferred, trained.detach(), rtol=0, atol=0)
    forwards = [s for s in eager_backend if "forward kernel" in s]
    assert len(forwards) == 2 and forwards[0] == forwards[1]


@pytest.mark.parametrize("channels", [None, 3])
@pytest.mark.parametrize("inference", [False, True])
def test_kernels_keep_the_inputs_layout(eager_backend, channels, inference) -> None:
    """Channels-last and permuted inputs are read where they lie and the result keeps their
    strides; values, the input gradient (also for a row-major gradient) and θ's gradient are those
    of the same input made row-major."""
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, channels=channels)
    inputs_ = [
        torch.randn(2, 3, 4, 5, dtype=torch.float64).to(memory_format=torch.channels_last) * 3,
        torch.randn(5, 3, 4, dtype=torch.float64).permute(2, 1, 0) * 3,
    ]
    for x in inputs_:
        if inference:
            with torch.no_grad():
                y, want = module(x), module(x.contiguous())
            assert y.stride() == x.stride()
            torch.testing.assert_close(y, want, rtol=0, atol=0)
            continue
        g = torch.randn(x.shape, dtype=x.dtype)  # row-major, unlike x
        got = run_with(module, x, g)
        want = run_with(module, x.contiguous(), g)
        assert got[0].stride() == x.stride()
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert any("forward kernel" in s for s in eager_backend)


def run_with(module, x, g):
    """Values, input gradient and θ gradient of ``module(x)`` for the output gradient ``g``."""
    module.theta.grad = None
    leaf = x.detach().clone().requires_grad_()
    y = module(leaf)
    y.backward(g)
    return y.detach(), leaf.grad, module.theta.grad.clone()


class LoadedStub:
    """Stands for a loaded AOTInductor kernel (``run`` on a list of tensors, not callable): runs
    the kernel's eager function and counts its calls."""

    def __init__(self, function) -> None:
        self.function, self.calls = function, 0

    def run(self, args):
        self.calls += 1
        out = self.function(*args)
        return [out] if isinstance(out, torch.Tensor) else list(out)


@pytest.mark.parametrize("channels", [None, 3])
def test_inference_goes_straight_to_a_loaded_forward_kernel(eager_backend, monkeypatch, channels) -> None:
    """Once the forward kernel is loaded, inference calls skip the checks that found it, until θ,
    the input's rank or the fuse option changes; values stay the unfused path's, and the module
    stays copyable."""
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, channels=channels, fusion="auto")
    plain = build(DiTAC, {"a": -3.0, "b": 3.0}, channels=channels, fusion="off")
    x = inputs((4, 3, 50), torch.float64)
    with torch.no_grad():
        module(x)  # the tables are cached; no kernel is loaded (tests run the functions)
    assert "_loaded_forward" not in module.__dict__
    spec = (-3.0, 3.0, 1, 0.0, False, False)
    forward = lookup_autograd.compiled(spec)[0]
    tables = module._cached_pieces(x)[2]
    stub = LoadedStub(forward.function)
    monkeypatch.setitem(forward.runners, forward.key((lookup_autograd._flat(x, tables, 1, None), tables)), stub)
    checks = []
    original = cpab_module.fuses
    # The checks that ``auto`` runs (the unfused module's "off" runs them too, and is not counted).
    monkeypatch.setattr(cpab_module, "fuses", lambda *args: checks.extend(args[1:2]) or original(*args))

    def infer(module, x):
        with torch.no_grad():
            return module(x)

    first = infer(module, x)  # found through the checks, then remembered
    assert (checks.count("auto"), stub.calls) == (1, 1) and "_loaded_forward" in module.__dict__
    second = infer(module, x)
    assert (checks.count("auto"), stub.calls) == (1, 2)
    assert torch.equal(torch.nan_to_num(second), torch.nan_to_num(first))
    want = infer(plain, x)
    torch.testing.assert_close(second, want, rtol=1e-12, atol=1e-12, equal_nan=True)
    checks.clear()
    with torch.no_grad():  # an optimizer step: new tables, the checks again
        for m in (module, plain):
            m.theta.add_(0.25)
    moved = infer(module, x)
    assert (checks.count("auto"), stub.calls) == (1, 3)
    torch.testing.assert_close(moved, infer(plain, x), rtol=1e-12, atol=1e-12, equal_nan=True)
    assert not torch.allclose(torch.nan_to_num(moved), torch.nan_to_num(first))
    wider = x.reshape(4, 3, 5, 10)  # another rank: checked once more
    torch.testing.assert_close(infer(module, wider), moved.reshape(wider.shape), rtol=0, atol=0, equal_nan=True)
    assert (checks.count("auto"), stub.calls) == (2, 4)
    checks.clear()
    module.fusion = "off"  # the option changed: checked, then the eager function, not the kernel
    torch.testing.assert_close(infer(module, x), moved, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert (checks, stub.calls) == (["off"], 4)
    module.fusion = "auto"
    copied = copy.deepcopy(module)
    torch.testing.assert_close(infer(copied, x), moved, rtol=0, atol=0, equal_nan=True)
    trained = module(x.nan_to_num())  # training still builds the autograd node
    assert trained.grad_fn is not None


def test_fuse_option_reaches_the_ditac_site(eager_backend) -> None:
    x = torch.randn(50, requires_grad=True)
    actlang.compile("ditac(x)", fuse=False)(x).sum().backward()
    assert eager_backend == []
    actlang.compile("ditac(x)", fuse=True)(x).sum().backward()
    assert len([s for s in eager_backend if "lookup" in s]) == 2


@pytest.mark.parametrize(("channels", "train_theta"), [(None, True), (3, True), (None, False)])
def test_fuse_true_builds_its_kernels_together(monkeypatch, channels, train_theta) -> None:
    """fuse=True asks for the lookup kernels a call runs in one wait (side by side), once: the
    forward and the backward (with the tables' weights when θ trains); inference wants the forward
    only. The table flow's kernel is asked for afterwards, in the background: never waited for."""
    monkeypatch.setattr(flow_kernel, "_KERNELS", {})
    monkeypatch.setattr(lookup_autograd, "_KERNELS", {})
    asked = []
    monkeypatch.setattr(kernels, "backend_available", lambda device: True)
    monkeypatch.setattr(kernels, "available", lambda device, fusion: True)
    record = lambda calls, wait: asked.append(([kernel.name for kernel, _ in calls], wait)) or True
    monkeypatch.setattr(kernels, "prepare", record)
    monkeypatch.setattr(kernels.Kernel, "__call__", lambda self, *args, wait=True: self.function(*args))
    monkeypatch.setattr(kernels.Kernel, "built", lambda self, args: self.name.startswith("lookup"))
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, channels=channels, fusion="on")
    module.theta.requires_grad_(train_theta)
    x = torch.randn(4, 3, 5, dtype=torch.float64, requires_grad=True)
    for _ in range(2):
        module(x).sum().backward()
    backward = "lookup_backward_weights" if train_theta else "lookup_backward"
    lookups = [entry for entry in asked if entry[0][0].startswith("lookup")]
    assert lookups == [(["lookup_forward", backward], True)]  # the second call asks for none
    assert asked[0] == lookups[0]
    flows = asked[1:]
    assert flows and all(entry == (["cpab_flow_steps"], False) for entry in flows)
    asked.clear()
    with torch.no_grad():
        module(x)
    assert asked[0] == (["lookup_forward"], True)


def test_missing_compiler_warns_once_and_falls_back(monkeypatch) -> None:
    monkeypatch.setattr(kernels, "cpp_compiler", lambda: None)
    monkeypatch.setattr(kernels, "_warned", set())
    monkeypatch.setattr(kernels.Kernel, "__call__", lambda *a: pytest.fail("inductor kernel without a compiler"))
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, fusion="auto")
    plain = build(DiTAC, {"a": -3.0, "b": 3.0}, fusion="off")
    x = inputs((kernels.MIN_NUMEL,), torch.float64)
    with pytest.warns(kernels.FusionWarning, match="C\\+\\+ compiler") as caught:
        compare(module, plain, x, rtol=1e-12)
    assert len([w for w in caught if issubclass(w.category, kernels.FusionWarning)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", kernels.FusionWarning)
        run(module, x, 1.0)  # no second warning
    module.fusion = "on"
    with pytest.raises(ActlangError, match="fuse=True needs a C\\+\\+ compiler"):
        run(module, x, 1.0)


def test_small_inputs_without_a_compiler_run_unfused_without_a_warning(monkeypatch) -> None:
    """Below kernels.MIN_NUMEL inputs ``auto`` only uses a kernel built already: without a compiler
    it neither warns nor looks for one on disk."""
    monkeypatch.setattr(kernels, "cpp_compiler", lambda: None)
    monkeypatch.setattr(kernels, "_warned", set())
    monkeypatch.setattr(kernels.Kernel, "built", lambda *a: pytest.fail("looked for a kernel without a compiler"))
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, fusion="auto")
    plain = build(DiTAC, {"a": -3.0, "b": 3.0}, fusion="off")
    with warnings.catch_warnings():
        warnings.simplefilter("error", kernels.FusionWarning)
        compare(module, plain, inputs((kernels.MIN_NUMEL - 1,), torch.float64), rtol=1e-12)


def test_torch_compile_sees_the_table_as_one_op() -> None:
    """Dynamo's graph holds the custom op, not the closed-form flow (thousands of nodes), and the
    compiled module's values and gradients are the eager ones."""
    graphs: list[torch.fx.GraphModule] = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    module = build(DiTAC, {"a": -3.0, "b": 3.0}, channels=3, dtype=torch.float32, fusion="auto")
    compiled = torch.compile(module, backend=backend, fullgraph=True)
    x = inputs((4, 3, 5), torch.float32)
    weights = torch.randn(x.shape)
    got, want = run(compiled, x, weights), run(module, x, weights)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, equal_nan=True)
    targets = [str(n.target) for n in graphs[0].graph.nodes if n.op == "call_function"]
    assert "actlang.cpab_pieces.default" in targets
    assert len(targets) < 80, len(targets)


def test_torch_compile_backward_is_the_fused_formulation() -> None:
    """AOTAutograd's backward graph sums the tables with sum_by_piece's scatter-add into partial
    tables (no graph break), not index_put (inductor: an atomic add per input) nor autograd's
    backward of the gathers (index_add)."""
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    backward_targets: list[str] = []

    def keep(gm, example_inputs):
        backward_targets.extend(str(n.target) for n in gm.graph.nodes if n.op == "call_function")
        return make_boxed_func(gm.forward)

    module = build(DiTAC, {"a": -3.0, "b": 3.0}, dtype=torch.float32, fusion="auto")
    backend = aot_autograd(fw_compiler=lambda gm, _: make_boxed_func(gm.forward), bw_compiler=keep)
    compiled = torch.compile(module, backend=backend)
    run(compiled, inputs((64,), torch.float32), 1.0)
    assert any("scatter_add" in t for t in backward_targets), backward_targets
    assert not any("index_put" in t or "index_add" in t for t in backward_targets), backward_targets
    assert any("cpab_pieces_backward" in t for t in backward_targets)


@pytest.fixture(scope="module")
def inductor_pair():
    """ditac modules with real inductor kernels (compiled once per dtype for the module's tests)."""
    return {
        dtype: (
            build(DiTAC, {"a": -3.0, "b": 3.0}, dtype=dtype, grid=2048),
            build(DiTAC, {"a": -3.0, "b": 3.0}, dtype=dtype, grid=2048, fusion="off"),
        )
        for dtype in (torch.float32, torch.float64)
    }


@needs_cxx
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inductor_kernels_match_the_unfused_path(inductor_pair, dtype) -> None:
    fused, plain = inductor_pair[dtype]
    spec = (-3.0, 3.0, 1, 0.0, False, False)
    compare(fused, plain, inputs((kernels.MIN_NUMEL,), dtype), rtol=1e-5 if dtype == torch.float32 else 1e-10)
    forward, _, backward = lookup_autograd.compiled(spec)
    for kernel in (forward, backward):
        found = [f for key, f in kernel.runners.items() if key[0] == dtype]
        assert found and all(hasattr(f, "run") for f in found)  # AOTInductor kernels, not the eager fallback


@needs_cxx
def test_inductor_inference_calls_go_straight_to_the_loaded_kernel(inductor_pair) -> None:
    fused, plain = inductor_pair[torch.float32]
    x = inputs((kernels.MIN_NUMEL,), torch.float32, seed=5)
    with torch.no_grad():
        first, second, want = fused(x), fused(x), plain(x)
    assert "_loaded_forward" in fused.__dict__
    assert torch.equal(torch.nan_to_num(first), torch.nan_to_num(second))
    torch.testing.assert_close(second, want, rtol=1e-5, atol=1e-5, equal_nan=True)


@needs_cxx
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inductor_kernels_find_the_eager_pieces_on_every_boundary(inductor_pair, dtype) -> None:
    """The kernels are built with FMA contraction: on every node of the table, and one ulp to
    each side, the backward kernel's pieces are the eager ``piece_index``'s, and the forward
    kernel's values the eager function's up to rounding."""
    fused, plain = inductor_pair[dtype]
    nodes = torch.linspace(-3.0, 3.0, fused.grid + 1, dtype=torch.float64).to(dtype)
    up, down = (torch.nextafter(nodes, torch.tensor(v, dtype=dtype)) for v in (float("inf"), float("-inf")))
    x = torch.cat([nodes, up, down, torch.tensor([float("nan"), float("inf"), float("-inf")], dtype=dtype)])
    with torch.no_grad():
        tables = fused._cached_pieces(x)[2]
        forward, _, backward = lookup_autograd.compiled((-3.0, 3.0, 1, 0.0, False, False))
        pieces = backward(torch.ones_like(x), x, tables)[2]  # built now if missing
        values = forward(x, tables)
        assert backward.loaded((x, x, tables)) is not None and forward.loaded((x, tables)) is not None
        assert torch.equal(pieces, lk.piece_index(x, -3.0, 3.0, fused.grid, False, 0, 0).long())
        tolerance = 1e-6 if dtype == torch.float32 else 1e-13
        torch.testing.assert_close(values, plain(x), rtol=tolerance, atol=tolerance, equal_nan=True)


@needs_cxx
def test_inductor_gradcheck_in_float64(inductor_pair) -> None:
    module, _ = inductor_pair[torch.float64]
    x = torch.from_numpy(np.random.default_rng(4).uniform(-3.5, 3.5, 24)).requires_grad_()
    theta = module.theta.detach().clone().requires_grad_()

    def f(x, t):
        return torch.func.functional_call(module, {"theta": t}, (x,))

    assert torch.autograd.gradcheck(f, (x, theta))


def test_frozen_theta_runs_the_input_gradient_kernel(eager_backend) -> None:
    """θ without gradient (a frozen layer): backward runs the kernel without the tables' sums."""
    fused = build(DiTAC, {"a": -3.0, "b": 3.0}, channels=3)
    plain = build(DiTAC, {"a": -3.0, "b": 3.0}, channels=3, fusion="off")
    for module in (fused, plain):
        module.theta.requires_grad_(False)
    x = inputs((4, 3, 6), torch.float64)
    x = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
    grads = []
    for module in (fused, plain):
        leaf = x.clone().requires_grad_()
        (module(leaf) * torch.cos(x)).sum().backward()
        grads.append(leaf.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-12)
    assert any("input-gradient kernel" in s for s in eager_backend)
    assert not any(s.endswith(" backward kernel") for s in eager_backend)


@pytest.mark.parametrize("kept", [32, 0])
def test_torch_compile_theta_gradient_with_kept_or_recomputed_partials(monkeypatch, kept) -> None:
    """The custom op's backward uses the partials its forward kept, or recomputes them when they
    were evicted (KEPT = 0): the same θ gradient as eager either way, and nothing left behind."""
    from actlang.cpab import table

    monkeypatch.setattr(table, "KEPT", kept)
    module = build(DiTAC, {"a": -3.0, "b": 3.0}, channels=2, dtype=torch.float32, fusion="off")
    compiled = torch.compile(module, backend="aot_eager", fullgraph=True)
    x = inputs((5, 2, 3), torch.float32)
    x = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
    got, want = run(compiled, x, torch.cos(x)), run(module, x, torch.cos(x))
    torch.testing.assert_close(got[2], want[2], rtol=1e-5, atol=1e-5)
    assert table._partials == {}


@pytest.mark.parametrize(
    ("dtype", "bound", "smallest"),
    [(torch.float32, 3e-5, 1.2e-38), (torch.bfloat16, 8e-3, 1e-30), (torch.float16, 1e-3, 6.2e-5)],
)
def test_normal_cdf_below_float64_is_as_accurate_as_erfc(dtype, bound, smallest) -> None:
    """Φ through the vectorisable erfc form: relative error against float64's erfc at the same
    (rounded) inputs, wherever Φ is a normal number of the dtype; 0 and 1 at the far tails."""
    x = torch.linspace(-13.0, 13.0, 100_001).to(dtype)
    exact = torch.special.erfc(x.double() * -(0.5**0.5)) * 0.5
    compiled = torch.compile(lk.normal_cdf, backend="eager", fullgraph=True)  # the traced form
    got = compiled(x)
    assert got.dtype == dtype
    normal = exact > smallest
    relative = ((got.double() - exact).abs() / exact)[normal]
    assert relative.max() <= bound, relative.max()
    ends = compiled(torch.tensor([-1e4, 1e4, float("nan")], dtype=dtype))
    assert ends[0] == 0 and ends[1] == 1 and ends[2].isnan()
    eager = lk.normal_cdf(x)  # eager code: ATen's erfc, the same values within the bound
    assert ((eager.double() - exact).abs() / exact)[normal].max() <= bound


@pytest.mark.parametrize(("dtype", "bound"), [(torch.float32, 3e-5), (torch.float64, 1e-13), (torch.bfloat16, 8e-3)])
def test_normal_cdf_and_density_share_one_exponential_and_stay_accurate(dtype, bound) -> None:
    """(Φ, φ) in the traced form (one exponential for both below float64) against float64's erfc
    and exp, relative, wherever each is a normal number of the dtype; and equal to Φ alone."""
    x = torch.linspace(-13.0, 13.0, 50_001).to(dtype)
    wide = x.double()
    exact_cdf = torch.special.erfc(wide * -(0.5**0.5)) * 0.5
    exact_density = torch.exp(wide * wide * -0.5) / math.sqrt(2 * math.pi)
    cdf, density = torch.compile(normal.normal_cdf_and_density, backend="eager", fullgraph=True)(x)
    smallest = torch.finfo(dtype).tiny
    for got, exact in ((cdf, exact_cdf), (density, exact_density)):
        assert got.dtype == dtype
        normal_values = exact > smallest
        assert ((got.double() - exact).abs() / exact)[normal_values].max() <= bound
    alone = torch.compile(normal.normal_cdf, backend="eager", fullgraph=True)(x)
    assert torch.equal(alone, cdf)
    exponentials = []

    def count(graph_module, _):
        exponentials.append(sum(node.target is torch.exp for node in graph_module.graph.nodes))
        return graph_module

    torch.compile(normal.normal_cdf_and_density, backend=count, fullgraph=True)(x)
    assert exponentials == [1]  # below float64 φ reuses erfc's exponential; float64: ATen's erfc, one exp for φ
    eager_cdf, eager_density = normal.normal_cdf_and_density(x)  # ATen's erfc and exp
    assert torch.equal(eager_cdf, normal.normal_cdf(x))
    assert ((eager_density.double() - exact_density).abs() / exact_density)[exact_density > smallest].max() <= bound


def test_erfc_float32_is_accurate_for_given_arguments() -> None:
    """The polynomial form alone, float32 arguments taken as exact: 4e-7 relative below 1, then
    the rounding of z² through the exponential (about 5e-8·z²)."""
    z = torch.linspace(0.0, 9.2, 100_001)
    exact = torch.special.erfc(z.double())
    got = torch.compile(normal.erfc_float32, backend="eager", fullgraph=True)(z).double()
    relative = (got - exact).abs() / exact
    assert relative[z < 1].max() <= 4e-7
    assert (relative <= 4e-7 + 6e-8 * z.double() ** 2).all()


@pytest.mark.parametrize("channels", [None, 3])
def test_torch_compile_with_dynamic_shapes_matches_eager(channels) -> None:
    """The traced backward's partial tables follow the input size (one graph, several sizes):
    x- and θ-gradients equal eager's. The packed tables compile without a warning from inductor
    (the traced sums stay float32: inductor warns on complex operators)."""
    torch.manual_seed(0)
    module = actlang.compile("ditac[a=-3, b=3, cells=8](x)", channels=channels, fuse=False)
    with torch.no_grad():
        module.ditac_0.theta.normal_(0, 0.5)
    compiled = torch.compile(module, dynamic=True)
    for shape in ((5, 3, 7), (30001, 3, 2), (9, 3, 1)):  # 2nd: several partial tables and a tail
        x = torch.randn(shape, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            got = torch.autograd.grad(compiled(x).pow(2).sum(), [x, module.ditac_0.theta])
        want = torch.autograd.grad(module(x).pow(2).sum(), [x, module.ditac_0.theta])
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


SPECIAL = [0.0, -0.0, 1.0, -1.5, 1e-45, -1e-45, 3.4e38, float("inf"), float("-inf"), float("nan")]


@pytest.mark.parametrize("shape", [(len(SPECIAL),), (2, len(SPECIAL))])
def test_packed_tables_give_back_both_values_bit_for_bit(shape) -> None:
    """float32 tables packed into int64 (one gather per input) unpack to the same bits, signed
    zeros, subnormals and NaN included; other dtypes are stacked."""
    first = torch.tensor(SPECIAL, dtype=torch.float32).expand(shape)
    second = first.flip(-1) * -1
    packed = lk.pack(first, second)
    assert packed.dtype == torch.int64 and packed.shape == first.shape
    index = torch.arange(first.numel(), dtype=torch.int32).flip(0).reshape(shape)
    for got, want in zip(lk.pieces_at(packed, index), (first, second), strict=True):
        assert torch.equal(got.view(torch.int32), lk.gather(want, index).view(torch.int32))
    doubled = lk.pack(first.double(), second.double())
    assert doubled.shape == (2, *shape) and torch.equal(doubled[1].view(torch.int64), second.double().view(torch.int64))


def test_packed_weights_sum_as_the_stacked_ones() -> None:
    """``sum_by_piece`` of packed float32 pairs (one complex64 add per input) equals the sums of
    the stacked pairs exactly, on a left-over tail too."""
    gen = torch.Generator().manual_seed(5)
    bins, size = 37, 4 * 37 * 8 + 5
    weights = torch.randn(2, size, generator=gen)
    index = torch.randint(0, bins, (size,), generator=gen)
    stacked = lk.sum_by_piece(weights, index, bins, threads=2)
    packed = lk.sum_by_piece(lk.pack(weights[0], weights[1]), index, bins, threads=2)
    assert torch.equal(packed, stacked)
    assert torch.allclose(stacked[1], torch.zeros(bins).index_add_(0, index, weights[1]), atol=1e-5)
