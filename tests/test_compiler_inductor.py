"""``compile(e, fuse=...)``: the TorchInductor kernels against the unfused path.

Most tests run the generated kernels through ``torch.compile(backend="eager")`` (the same graphs,
traced by dynamo, without inductor's C++ build: fast); ``test_inductor_*`` build real inductor
kernels for two expressions (seconds each the first time; inductor caches them on disk).
"""

from __future__ import annotations

import warnings

import pytest
import torch

import actlang
from actlang import kernel_builder, kernels
from actlang.compiler import inductor
from actlang.errors import ActlangError, UnsupportedError

PLAIN = "-x*sigmoid(x)*hard_sigmoid(x)"
LEARNED = "x*sigmoid(beta*x) where beta = 1.5"
TWO = "alpha*tanh(beta*x) + x where alpha = 0.5, beta = 1.5"
BIG = inductor.MIN_NUMEL  # the smallest size ``auto`` fuses

pytestmark = pytest.mark.filterwarnings("ignore::actlang.errors.AmbiguousNameWarning")


@pytest.fixture
def eager_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "BACKEND", "eager")


def _pair(text: str, **options) -> tuple[torch.nn.Module, torch.nn.Module]:
    fused = actlang.compile(text, fuse=True, **options)
    unfused = actlang.compile(text, fuse=False, **options)
    return fused, unfused


def _compare(fused, unfused, x: torch.Tensor, rtol: float) -> None:
    """Values, input gradient and parameter gradients of both modules at x."""
    xa = x.detach().clone().requires_grad_()
    xb = x.detach().clone().requires_grad_()
    ya, yb = fused(xa), unfused(xb)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(ya, yb, rtol=rtol, atol=rtol)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=rtol, atol=rtol)
    for (name, a), (_, b) in zip(fused.named_parameters(), unfused.named_parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=rtol * 10, atol=rtol * 10, msg=name)
        a.grad = b.grad = None


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record which kernels run (and still run them)."""
    seen: list[str] = []
    original = inductor.Plan.call

    def call(self, name, *args):
        seen.append(name)
        return original(self, name, *args)

    monkeypatch.setattr(inductor.Plan, "call", call)
    return seen


@pytest.mark.parametrize("bad", ["yes", None, 1, "on"])
def test_fuse_option_is_checked(bad) -> None:
    with pytest.raises(ActlangError, match="fuse must be"):
        actlang.compile("relu(x) + x", fuse=bad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("text", [PLAIN, LEARNED, TWO, "softplus(x)^2 - x"])
def test_kernels_match_unfused(eager_backend, monkeypatch, text, dtype) -> None:
    """Ranks 1, 2 and 4 (one graph: the kernels take x flattened)."""
    seen = _calls(monkeypatch)
    fused, unfused = _pair(text)
    for shape in [(7,), (3, 5), (2, 3, 4, 5)]:
        x = torch.randn(shape, dtype=dtype) * 3
        _compare(fused, unfused, x, rtol=1e-5 if dtype == torch.float32 else 1e-12)
        with torch.no_grad():
            torch.testing.assert_close(fused(x), unfused(x), rtol=1e-6, atol=1e-6)
    assert "value" in seen or "forward" in seen, "the fused module did not run its kernels"


@pytest.mark.parametrize("channel_dim", [1, -1])
def test_kernels_match_unfused_per_channel(eager_backend, monkeypatch, channel_dim) -> None:
    seen = _calls(monkeypatch)
    fused, unfused = _pair(TWO, channels=3, channel_dim=channel_dim)
    with torch.no_grad():
        for module in (fused, unfused):
            module.alpha.copy_(torch.tensor([0.5, -1.0, 2.0]))
    for shape in [(4, 3), (2, 3, 5, 3), (3, 3, 3)]:
        _compare(fused, unfused, torch.randn(shape, dtype=torch.float64), rtol=1e-12)
    assert "backward" in seen


def _layouts(dtype: torch.dtype) -> list[torch.Tensor]:
    """Dense inputs that are not row-major: channels-last, a transposed matrix, a permuted view."""
    return [
        torch.randn(2, 3, 4, 5, dtype=dtype).to(memory_format=torch.channels_last) * 3,
        torch.randn(6, 3, dtype=dtype).t() * 3,
        torch.randn(5, 3, 4, dtype=dtype).permute(2, 1, 0) * 3,
    ]


@pytest.mark.parametrize(
    ("text", "channels", "strategy"),
    [(PLAIN, None, "recompute"), (PLAIN, None, "derivatives"), (LEARNED, None, "recompute"),
     (LEARNED, None, "derivatives"), (TWO, 3, "recompute")],
)  # fmt: skip
def test_kernels_keep_the_inputs_layout(eager_backend, monkeypatch, text, strategy, channels) -> None:
    """Channels-last and other permuted inputs are read where they lie (no copy) and the result
    has their strides; values and gradients are the unfused path's, also for a gradient of
    another layout than x's."""
    options = {"channels": channels, "channel_dim": 1} if channels else {}
    fused, unfused = _pair(text, **options)
    found = inductor.plan(fused.program)
    monkeypatch.setattr(found, "strategy", strategy)
    monkeypatch.setattr(found, "function", inductor._function(found))
    seen = _calls(monkeypatch)
    for x in _layouts(torch.float64):
        if channels and x.shape[1] != channels:
            continue
        order = kernels.memory_order(x)
        assert order is not None and kernels.flat(x, None, order).data_ptr() == x.data_ptr()
        _compare(fused, unfused, x, rtol=1e-12)
        with torch.no_grad():
            y = fused(x)
        assert y.stride() == x.stride()
        torch.testing.assert_close(y, unfused(x), rtol=1e-12, atol=1e-12)
        a, b = (x.detach().clone().requires_grad_() for _ in range(2))
        g = torch.randn(x.shape, dtype=x.dtype)  # row-major, unlike x
        fused(a).backward(g)
        unfused(b).backward(g)
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-12)
    assert seen.count("value" if strategy == "recompute" else "forward") >= 2


@pytest.mark.parametrize("strategy", ["recompute", "derivatives"])
@pytest.mark.parametrize("text", [PLAIN, LEARNED])
def test_both_strategies(eager_backend, monkeypatch, text, strategy) -> None:
    fused, unfused = _pair(text)
    found = inductor.plan(fused.program)
    assert found is not None and strategy in found.prices
    monkeypatch.setattr(found, "strategy", strategy)
    monkeypatch.setattr(found, "function", inductor._function(found))
    seen = _calls(monkeypatch)
    _compare(fused, unfused, torch.randn(2, 9, dtype=torch.float64), rtol=1e-12)
    assert seen[0] == ("value" if strategy == "recompute" else "forward")


@pytest.mark.parametrize("text", [PLAIN, LEARNED])
def test_saved_memory_is_unchanged(eager_backend, text) -> None:
    """1× the input saved (x, or ∂f/∂x); 2× with a learned scalar (derivatives strategy)."""
    fused = actlang.compile(text, fuse=True)
    x = torch.randn(4096, requires_grad=True)
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fused(x)
    assert sum(storages.values()) / (x.numel() * 4) <= (2.01 if "beta" in text else 1.01)


def test_double_backward_recomputes(eager_backend) -> None:
    fused, unfused = _pair(LEARNED)
    x = torch.randn(6, dtype=torch.float64, requires_grad=True)
    (ga,) = torch.autograd.grad(fused(x).sum(), x, create_graph=True)
    (gb,) = torch.autograd.grad(unfused(x).sum(), x, create_graph=True)
    torch.testing.assert_close(torch.autograd.grad(ga.sum(), x)[0], torch.autograd.grad(gb.sum(), x)[0])


def test_fuse_false_never_calls_inductor(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("inductor used with fuse=False")

    monkeypatch.setattr(inductor, "plan", refuse)
    module = actlang.compile(PLAIN, fuse=False)
    x = torch.randn(BIG, requires_grad=True)
    module(x).sum().backward()
    with torch.no_grad():
        module(x)
    assert "fuse=False" in repr(module)


def test_auto_keeps_small_tensors_unfused(monkeypatch) -> None:
    monkeypatch.setattr(inductor.Plan, "call", lambda *a: pytest.fail("a kernel ran for a small tensor"))
    module = actlang.compile(PLAIN)
    x = torch.randn(BIG - 1, requires_grad=True)
    module(x).sum().backward()
    assert x.grad is not None


def test_cost_model_keeps_the_faster_path() -> None:
    """Compute-bound ``erfc(softplus(x))^2`` stays unfused; memory-bound expressions fuse."""
    learned = inductor.plan(actlang.compile("alpha*erfc(softplus(beta*x))^2 where beta = 1.5").program)
    assert not learned.train and not learned.infer, learned.prices
    found = inductor.plan(actlang.compile("erfc(softplus(x))^2").program)
    assert not found.infer
    # Its unfused path saves the symbolic derivative (when sympy finishes within the build's
    # budget; a checkpoint otherwise, which the fused kernels do beat).
    if found.program.fused().label == "derivatives (symbolic)":
        assert not found.train, found.prices
    for text in (PLAIN, LEARNED, "asinh(elu(silu(x)))", "min(softplus(x)^2, -x)"):
        found = inductor.plan(actlang.compile(text).program)
        assert found.train and found.infer, (text, found.prices)
    assert inductor.plan(actlang.compile("relu(x)").program) is None  # one native kernel already


def test_auto_uses_the_unfused_path_where_cheaper(monkeypatch) -> None:
    monkeypatch.setattr(inductor.Plan, "call", lambda *a: pytest.fail("fused although the model says slower"))
    module = actlang.compile("erfc(softplus(x))^2")
    module(torch.randn(BIG, requires_grad=True)).sum().backward()


def test_missing_compiler_warns_once_and_falls_back(monkeypatch) -> None:
    monkeypatch.setattr(kernels, "cpp_compiler", lambda: None)
    monkeypatch.setattr(kernels, "_warned", set())
    module, unfused = _pair(PLAIN)
    module = actlang.compile(PLAIN)  # auto
    x = torch.randn(BIG, requires_grad=True)
    with pytest.warns(inductor.FusionWarning, match="C\\+\\+ compiler") as caught:
        y = module(x)
        module(x)
    assert len([w for w in caught if issubclass(w.category, inductor.FusionWarning)]) == 1
    torch.testing.assert_close(y, unfused(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error", inductor.FusionWarning)
        module(x)  # no second warning
    with pytest.raises(UnsupportedError, match="fuse=True needs a C\\+\\+ compiler"):
        actlang.compile(PLAIN, fuse=True)(x)


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_inside_torch_compile_no_double_compilation(monkeypatch, backend) -> None:
    monkeypatch.setattr(inductor.Plan, "call", lambda *a: pytest.fail("inductor kernels inside torch.compile"))
    module = actlang.compile(LEARNED)
    reference = actlang.compile(LEARNED, fuse=False)
    compiled = torch.compile(module, backend=backend, fullgraph=True)
    x = torch.randn(BIG, requires_grad=True)
    y = compiled(x)
    y.sum().backward()
    torch.testing.assert_close(y, reference(x))
    assert module.beta.grad is not None


def test_transforms_and_script_use_plain_code(monkeypatch) -> None:
    monkeypatch.setattr(inductor.Plan, "call", lambda *a: pytest.fail("inductor kernels under a transform"))
    module = actlang.compile(LEARNED)
    x = torch.randn(BIG)
    grads = torch.func.grad(lambda t: module(t).sum())(x)
    assert grads.shape == x.shape
    scripted = torch.jit.script(module)
    torch.testing.assert_close(scripted(x), actlang.compile(LEARNED, fuse=False)(x))


def test_pickle_keeps_the_option() -> None:
    import pickle

    module = pickle.loads(pickle.dumps(actlang.compile(PLAIN, fuse=False)))
    assert module.fusion == "off"


@pytest.mark.skipif(inductor.cpp_compiler() is None, reason="no C++ compiler for inductor")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inductor_kernels_match_unfused(monkeypatch, dtype) -> None:
    seen = _calls(monkeypatch)
    fused, unfused = _pair(PLAIN)
    for shape in [(BIG,), (4, 3, 7), (2, 3, 5, 7)]:
        _compare(fused, unfused, torch.randn(shape, dtype=dtype) * 4, rtol=1e-5 if dtype == torch.float32 else 1e-12)
    assert set(seen) == {"value", "backward"}  # recompute: the cheaper strategy for it
    runners = inductor.plan(fused.program).runners
    assert all(hasattr(runners[name, dtype, "cpu"], "run") for name in seen)  # AOTInductor kernels, not eager


@pytest.mark.skipif(inductor.cpp_compiler() is None, reason="no C++ compiler for inductor")
def test_inductor_per_channel_learned_scalar(monkeypatch) -> None:
    seen = _calls(monkeypatch)
    fused, unfused = _pair(LEARNED, channels=3)
    for shape in [(5, 3), (2, 3, 4, 4)]:
        _compare(fused, unfused, torch.randn(shape) * 4, rtol=1e-5)
    assert "backward" in seen


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_inductor_on_cuda() -> None:
    fused, unfused = _pair(LEARNED)
    _compare(fused.cuda(), unfused.cuda(), torch.randn(3, 4, device="cuda"), rtol=1e-5)


def test_compiling_is_logged_once_per_kernel(eager_backend, caplog) -> None:
    module = actlang.compile("softsign(x) * x + x", fuse=True)
    x = torch.randn(50, requires_grad=True)
    with caplog.at_level("INFO", logger="actlang.compiler"):
        module(x).sum().backward()
        module(x).sum().backward()
    compiling = [r.getMessage() for r in caplog.records if r.getMessage().startswith("compiling")]
    assert len(compiling) == len(set(compiling)) >= 2, compiling
    assert all("with TorchInductor" in m and "softsign(x)" in m for m in compiling)


def test_a_kernel_that_fails_to_compile_runs_unfused(monkeypatch, tmp_path) -> None:
    def broken(kernels):
        return ["CppCompileError: C++ compile error: simulated" for _ in kernels]

    monkeypatch.setenv("ACTLANG_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernel_builder, "build_many", broken)
    fused, unfused = _pair("softsign(x) * x - x")
    with pytest.warns(inductor.FusionWarning, match="could not compile"):
        _compare(fused, unfused, torch.randn(3, 4, dtype=torch.float64), rtol=1e-12)
