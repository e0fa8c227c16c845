"""Fused kernels on disk (``actlang.kernel_cache``): keys, files, background builds.

The tests that build real AOTInductor kernels take seconds each; they use the user's kernel
cache (as inductor's own tests use its cache), so a second run on a machine reuses the files,
except the background-build test, which needs an empty directory.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

import actlang
from actlang import kernel_builder, kernel_cache
from actlang.compiler import inductor

PLAIN = "softsign(x) * x - x"
BIG = inductor.MIN_NUMEL
needs_compiler = pytest.mark.skipif(inductor.cpp_compiler() is None, reason="no C++ compiler for inductor")


def _kernel(text: str = "def value(x):\n    return x * 2\n", **changes) -> kernel_cache.Kernel:
    recipe = ("actlang.compiler.loading:generated_function", (text, "value"))
    fields = {"name": "value", "recipe": recipe, "dtype": "float32", "device": "cpu", "rank": 1,
              "channels": 0, "shapes": (None,)}  # fmt: skip
    return kernel_cache.Kernel(**{**fields, **changes})


@pytest.mark.parametrize(
    "change",
    [{"text": "def value(x):\n    return x * 3\n"}, {"dtype": "float64"}, {"shapes": (None, ())},
     {"channels": 4, "rank": 3}, {"name": "forward"}, {"origin": "edited"}, {"device": "meta"},
     {"arg_dtypes": ("float32", "int64")}],
)  # fmt: skip
def test_the_key_covers_what_the_code_depends_on(change) -> None:
    assert _kernel(**change).key != _kernel().key
    assert _kernel().key == _kernel().key


def test_a_kernel_travels_as_json() -> None:
    for kernel in (_kernel(shapes=(None, (3,), ()), rank=3, channels=3), _kernel(arg_dtypes=("float32",))):
        assert kernel_cache.Kernel.from_json(kernel.to_json()) == kernel
    assert _kernel().function()(torch.ones(2)).tolist() == [2.0, 2.0]


def test_arguments_of_other_dtypes_are_described_and_given_as_examples() -> None:
    """A kernel whose arguments are all of x's dtype has no ``arg_dtypes`` (its file name is what
    it was before the field existed); DiTAC's packed int64 tables are named, and exported with
    int64 examples."""
    x = torch.ones(4)
    same = kernel_cache.describe("value", _kernel().recipe, (x, torch.ones(3)), 1)
    assert same.arg_dtypes == ()
    assert "arg_dtypes" not in same.to_json() or '"arg_dtypes": []' in same.to_json()
    mixed = kernel_cache.describe("value", _kernel().recipe, (x, torch.ones(3, dtype=torch.int64)), 1)
    assert mixed.arg_dtypes == ("float32", "int64") and mixed.key != same.key
    examples, _ = kernel_cache._examples(mixed)
    assert [e.dtype for e in examples] == [torch.float32, torch.int64]


def test_fma_contraction_only_where_the_maker_module_asks_for_it(monkeypatch) -> None:
    """Generated expression kernels keep inductor's default (no contraction: it changes rounding);
    DiTAC's lookup asks for ``fast``, and its constant is in the source its files' names hash."""
    from actlang.cpab import lookup

    assert kernel_cache._contract(_kernel()) == "off"
    ditac = _kernel(recipe=("actlang.cpab.lookup:kernel_function", ("forward", -3.0, 3.0, 1, 0.0, False, False)))
    assert kernel_cache._contract(ditac) == "fast" == lookup.FLOATING_POINT_CONTRACT
    monkeypatch.setattr(lookup, "FLOATING_POINT_CONTRACT", "on")
    assert kernel_cache._contract(ditac) == "on"


def test_the_key_covers_torch_and_the_format(monkeypatch) -> None:
    before = _kernel().key
    monkeypatch.setattr(torch, "__version__", "0.0.0")
    assert _kernel().key != before
    monkeypatch.undo()
    monkeypatch.setattr(kernel_cache, "FORMAT", kernel_cache.FORMAT + 1)
    assert _kernel().key != before


def test_the_key_covers_the_cpus_features(monkeypatch) -> None:
    """Inductor compiles for this CPU (-march=native): a CPU of the same vector ISA but other
    features (a cluster's nodes sharing a home directory) must not load the file."""
    before = _kernel().key
    assert kernel_cache._cpu_features() and kernel_cache._cpu_features() in kernel_cache._target("cpu")
    monkeypatch.setattr(kernel_cache, "_cpu_features", lambda: "another-cpu")
    assert _kernel().key != before


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ACTLANG_CACHE_DIR", str(tmp_path / "a"))
    assert kernel_cache.cache_dir() == tmp_path / "a" / "kernels"
    monkeypatch.delenv("ACTLANG_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kernel_cache.cache_dir() == tmp_path / "xdg" / "actlang" / "kernels"


def test_a_damaged_file_is_removed_not_loaded(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ACTLANG_CACHE_DIR", str(tmp_path))
    kernel = _kernel("def value(x):\n    return x * 5\n")
    path = kernel_cache.path_of(kernel)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 truncated")
    assert kernel_cache.load(kernel) is None
    assert not path.exists()


def test_a_dead_builders_lock_is_taken_over(tmp_path) -> None:
    lock = tmp_path / "k.lock"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(str(dead.pid))
    assert kernel_builder._take(lock)
    assert lock.read_text() == str(os.getpid())
    assert not kernel_builder._take(lock)  # held by a live process (this one)


def _fail_value_kernel(text: str, monkeypatch, tmp_path) -> torch.nn.Module:
    """``text`` compiled with ``auto`` in a cache where its value kernel's build failed (a
    marker file); a background build request fails the test."""
    monkeypatch.setenv("ACTLANG_CACHE_DIR", str(tmp_path))
    module = actlang.compile(text)
    found = inductor.plan(module.program)
    flat = found.flatten(torch.randn(BIG), None)
    recipe = ("actlang.compiler.loading:generated_function", (found.codes["value"].text, "value"))
    kernel = kernel_cache.describe("value", recipe, (flat,), 1)
    marker = kernel_cache.path_of(kernel).with_suffix(".failed")
    marker.parent.mkdir(parents=True)
    marker.write_text("CppCompileError: simulated")
    monkeypatch.setattr(kernel_builder, "request", lambda k: pytest.fail("a failed kernel was rebuilt"))
    return module


# Compiled programs are shared by every module of one expression (in-memory kernel state
# included), so the tests that make builds fail use expressions of their own.
def test_a_failed_build_warns_once_and_stays_unfused(monkeypatch, tmp_path) -> None:
    text = "softsign(x) * x + x"
    module = _fail_value_kernel(text, monkeypatch, tmp_path)
    x = torch.randn(BIG)
    with torch.no_grad(), pytest.warns(inductor.FusionWarning, match="simulated"):
        y = module(x)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error", inductor.FusionWarning)
        module(x)
    torch.testing.assert_close(y, actlang.compile(text, fuse=False)(x))


@pytest.mark.parametrize(("fusion", "text"), [("auto", "softsign(x) * x + 3 * x"), (True, "softsign(x) * x + 4 * x")])
def test_a_cache_directory_that_cannot_be_written_warns_once_and_runs_unfused(monkeypatch, tmp_path, fusion, text):
    """``ACTLANG_CACHE_DIR`` below a regular file (no directory can be made there): no kernel file
    can be written, so no build starts; one FusionWarning says why, and the module runs unfused
    with the right values (before: fuse=True raised NotADirectoryError, auto stayed unfused silently)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("ACTLANG_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(kernel_cache, "_failures", {}, raising=False)  # noted failures: none yet
    monkeypatch.setattr(kernel_builder, "_requested", set())
    module, plain = actlang.compile(text, fuse=fusion), actlang.compile(text, fuse=False)
    x = torch.randn(BIG)
    with torch.no_grad(), pytest.warns(inductor.FusionWarning, match="cannot write kernel files") as caught:
        y = module(x)
        kernel_builder.wait(60)  # auto: the background request ends at once
        module(x)
    assert len([w for w in caught if issubclass(w.category, inductor.FusionWarning)]) == 1
    assert "ACTLANG_CACHE_DIR" in str(caught[0].message)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error", inductor.FusionWarning)
        torch.testing.assert_close(module(x), plain(x))
    torch.testing.assert_close(y, plain(x))


def test_fuse_true_tries_again_where_a_background_build_failed(monkeypatch, tmp_path) -> None:
    """After ``auto``'s background build failed, ``fuse=True`` on the same expression builds the
    kernel now (the user asked for it) instead of silently running unfused."""
    text = "softsign(x) * x + 2 * x"
    x = torch.randn(BIG)
    with torch.no_grad(), pytest.warns(inductor.FusionWarning, match="simulated"):
        _fail_value_kernel(text, monkeypatch, tmp_path)(x)
    builds = []
    monkeypatch.setattr(kernel_builder, "build_many", lambda specs: builds.append(specs) or ["CppCompileError: again"])
    with torch.no_grad(), pytest.warns(inductor.FusionWarning, match="again"):
        y = actlang.compile(text, fuse=True)(x)
    assert [[spec.name for spec in specs] for specs in builds] == [["value"]]
    torch.testing.assert_close(y, actlang.compile(text, fuse=False)(x))


SECOND_PROCESS = """
import sys, torch, actlang
from actlang.compiler import inductor
module = actlang.compile(sys.argv[1])  # fuse="auto"
x = torch.randn(int(sys.argv[2]), requires_grad=True)
y = module(x)
y.backward(torch.ones_like(y))
runners = inductor.plan(module.program).runners
fused = [k[0] for k, r in runners.items() if hasattr(r, "run")]
reference = actlang.compile(sys.argv[1], fuse=False)
xr = x.detach().clone().requires_grad_()
reference(xr).sum().backward()
torch.testing.assert_close(y, reference(xr))
torch.testing.assert_close(x.grad, xr.grad)
print(sorted(fused), "torch._inductor" in sys.modules, "torch._dynamo" in sys.modules)
"""


@needs_compiler
def test_a_second_process_loads_the_kernels_without_inductor() -> None:
    """Kernels built once (here, by ``fuse=True``) are loaded by a new process with ``auto``:
    fused from its first call, without importing dynamo or inductor."""
    module = actlang.compile(PLAIN, fuse=True)
    module(torch.randn(BIG, requires_grad=True)).sum().backward()
    found = inductor.plan(module.program)
    names = found.kernels(True)
    done = subprocess.run([sys.executable, "-c", SECOND_PROCESS, PLAIN, str(BIG)], capture_output=True, text=True,
                          check=True, cwd=Path(actlang.__file__).parent.parent)  # fmt: skip
    assert done.stdout.split("\n")[-2] == f"{sorted(names)} False False", done.stdout + done.stderr


MORE_THREADS = """
import os, sys, torch, actlang
from actlang.compiler import inductor
torch.set_num_threads(int(sys.argv[3]))
module = actlang.compile(sys.argv[1])  # fuse="auto": the kernel files built by the test
reference = actlang.compile(sys.argv[1], fuse=False)
x = torch.randn(int(sys.argv[2]), requires_grad=True)
grad = torch.randn_like(x)
module(x).backward(grad)
fused = sorted(k[0] for k, r in inductor.plan(module.program).runners.items() if hasattr(r, "run"))
xr = x.detach().clone().requires_grad_()
reference(xr).backward(grad)
torch.testing.assert_close(x.grad, xr.grad)
for got, want in zip(module.parameters(), reference.parameters(), strict=True):
    torch.testing.assert_close(got.grad, want.grad, rtol=1e-4, atol=1e-3)
print(fused, torch.get_num_threads())
"""


@needs_compiler
@pytest.mark.parametrize("threads", [1, (os.cpu_count() or 1) + 3])
def test_a_kernel_file_runs_with_any_thread_count(threads) -> None:
    """One kernel file serves every process on the machine: a caller with fewer or more threads
    than the builder had runs it, a learned scalar's gradient (a reduction with per-thread partial
    sums) included. Inductor fixed the count at build time unless told otherwise: with more
    threads the reduction's per-thread arrays overflowed, and the process crashed."""
    text = "x * sigmoid(beta * x)"
    module = actlang.compile(text, fuse=True)
    module(torch.randn(BIG, requires_grad=True)).sum().backward()
    names = inductor.plan(module.program).kernels(True)
    done = subprocess.run([sys.executable, "-c", MORE_THREADS, text, str(BIG), str(threads)], capture_output=True,
                          text=True, cwd=Path(actlang.__file__).parent.parent)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split("\n")[-2] == f"{sorted(names)} {threads}", done.stdout + done.stderr


@needs_compiler
def test_auto_builds_in_the_background_and_survives_a_killed_builder(monkeypatch, tmp_path, caplog) -> None:
    """``auto`` runs unfused while a background process builds the kernel; a builder killed with
    SIGKILL leaves no file behind and a later request builds it; then the module runs fused."""
    monkeypatch.setenv("ACTLANG_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernel_builder, "_requested", set())
    text = "softsign(x) * x + 0.25 * x"  # a kernel no other test builds
    module = actlang.compile(text)
    found = inductor.plan(module.program)
    x = torch.randn(BIG)
    with torch.no_grad(), caplog.at_level(logging.INFO, logger="actlang.compiler"):
        first = module(x)
    assert any("in the background" in r.getMessage() for r in caplog.records)
    assert not any(hasattr(r, "run") for r in found.runners.values())  # unfused meanwhile
    lock = _wait_for(lambda: next(iter(tmp_path.glob("kernels/*.lock")), None), 60)
    os.kill(int(_wait_for(lambda: lock.read_text() or None, 10)), signal.SIGKILL)
    kernel_builder.wait(timeout=60)  # the builder has ended
    assert not list(tmp_path.glob("kernels/value-*.pt2"))
    for kernel in found.kernel_objects.values():  # ask again, as a later process would
        kernel.pending.clear()
    kernel_builder._requested.clear()
    with torch.no_grad():
        module(x)
    kernel_builder.wait(timeout=600)
    with torch.no_grad():
        second = module(x)
    assert [k[0] for k, r in found.runners.items() if hasattr(r, "run")] == ["value"]
    torch.testing.assert_close(first, second)
    leftovers = [p.name for p in (tmp_path / "kernels").iterdir() if not p.name.startswith(".")]
    assert [p.split("-")[0] for p in leftovers] == ["value"], leftovers  # no lock, spec or log


EXITS_WHILE_BUILDING = """
import sys, time
from pathlib import Path
from actlang import kernel_builder, kernel_cache
started = []
kernel_builder._run_builder = lambda kernel: started.append(kernel) or time.sleep(600)  # a build that takes long
handed = Path(sys.argv[1])
note = "import sys; open(sys.argv[1], 'w').write(' '.join(sys.argv[2:]))"  # the builder: notes its SPECs
kernel_builder.builder_command = lambda *specs: [sys.executable, "-c", note, str(handed), *map(str, specs)]
for text in ("x", "2 * x"):
    recipe = ("actlang.compiler.loading:generated_function", (f"def value(x):\\n    return {text}\\n", "value"))
    kernel_builder.request(kernel_cache.Kernel("value", recipe, "float32", "cpu", 1, 0, (None,)))
while not started:
    time.sleep(0.01)
print("exiting")
"""


def test_a_process_exits_at_once_and_hands_its_queued_builds_over(tmp_path) -> None:
    """A process whose background build is still running exits without waiting for it (a worker
    of a thread pool held the exit until every queued build was done), and the builds still
    queued go to one builder process that outlives it."""
    handed = tmp_path / "handed.txt"
    env = {**os.environ, "ACTLANG_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", EXITS_WHILE_BUILDING, str(handed)], capture_output=True, text=True,
                          env=env, timeout=120, cwd=Path(actlang.__file__).parent.parent)  # fmt: skip
    assert done.returncode == 0 and done.stdout == "exiting\n", done.stdout + done.stderr
    specs = _wait_for(lambda: handed.read_text().split() or None, 30)
    assert len(specs) == 1 and specs[0].endswith(".exit.json")  # the second kernel; the first was running
    assert "2 * x" in Path(specs[0]).read_text()


def test_only_the_process_that_queued_builds_hands_them_over(monkeypatch, tmp_path) -> None:
    """A forked child inherits the queue but not the thread that runs it: at its exit it hands
    nothing over (its parent still runs the builds); the owner hands over every queued kernel
    in one builder process."""
    monkeypatch.setenv("ACTLANG_CACHE_DIR", str(tmp_path))
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda command, **_: started.append(command))
    kernels = [_kernel(f"def value(x):\n    return x + {k}\n") for k in range(2)]
    for owner, expected in ((os.getpid() + 1, 0), (os.getpid(), 1)):
        monkeypatch.setattr(kernel_builder, "_jobs", queue.SimpleQueue())
        monkeypatch.setattr(kernel_builder, "_worker", [(owner, None)])
        for kernel in kernels:
            kernel_builder._jobs.put(kernel)
        kernel_builder._hand_over()
        assert len(started) == expected
    specs = [Path(p) for p in started[0][4:]]
    assert [kernel_cache.Kernel.from_json(p.read_text()) for p in specs] == kernels


def test_a_builder_builds_each_of_its_kernels_in_turn(monkeypatch, tmp_path) -> None:
    """``main`` with several SPEC files (what a process hands over at exit): each kernel built
    under its own lock, each SPEC removed, a kernel another builder holds skipped, a failure
    recorded in its ``.failed`` file and the others still built."""
    monkeypatch.setenv("ACTLANG_CACHE_DIR", str(tmp_path))
    kernels = [_kernel(f"def value(x):\n    return x * {k}\n") for k in range(4)]
    specs = []
    for index, kernel in enumerate(kernels):
        specs.append(tmp_path / f"spec{index}.json")
        specs[-1].write_text(kernel.to_json())
    held = kernel_cache.path_of(kernels[1]).with_suffix(".lock")
    held.parent.mkdir(parents=True)
    held.write_text(str(os.getpid()))  # a live builder holds it
    built = []

    def fake_build(kernel):
        assert kernel_cache.path_of(kernel).with_suffix(".lock").read_text() == str(os.getpid())
        if kernel == kernels[2]:
            raise RuntimeError("simulated")
        built.append(kernel)

    monkeypatch.setattr(kernel_builder, "build", fake_build)
    assert kernel_builder.main([str(spec) for spec in specs]) == 1
    assert built == [kernels[0], kernels[3]]
    assert not any(spec.exists() for spec in specs)
    assert kernel_cache.failure(kernels[2]) == "RuntimeError: simulated"
    assert held.exists() and not kernel_cache.path_of(kernels[0]).with_suffix(".lock").exists()


def _wait_for(probe, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = probe()
        except FileNotFoundError:
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_builder_imports_the_requesting_processs_actlang(tmp_path) -> None:
    """A builder builds the code its file's name hashes: this process's actlang, even where
    another actlang comes first on the path (a checkout beside an installed copy). The other here
    is a decoy on PYTHONPATH and in the working directory that fails on import. ``-S`` leaves
    out site-packages (and an editable install's import hook, which would hide the decoy): the
    builder's import of actlang succeeds, and it stops at the next one, torch's."""
    decoy = tmp_path / "decoy" / "actlang"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise ImportError('the decoy actlang')\n")
    env = {**os.environ, "PYTHONPATH": str(decoy.parent)}
    executable, *rest = kernel_builder.builder_command(tmp_path / "spec.json")
    run = lambda *args: subprocess.run([executable, "-S", *args], capture_output=True, text=True, env=env,
                                       cwd=decoy.parent).stderr  # fmt: skip
    built = run(*rest)
    assert "decoy" not in built and "No module named 'torch'" in built, built
    assert "the decoy actlang" in run("-m", "actlang.kernel_builder", str(tmp_path / "spec.json"))


def test_the_builder_reports_a_failure(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ACTLANG_CACHE_DIR", str(tmp_path))
    kernel = _kernel("def value(x):\n    return undefined_name(x)\n")
    spec = tmp_path / "spec.json"
    spec.write_text(kernel.to_json())
    assert kernel_builder.main([str(spec)]) == 1
    assert "NameError" in (kernel_cache.failure(kernel) or "")
    assert not kernel_cache.path_of(kernel).with_suffix(".lock").exists()


def test_kernels_built_together_load_each_for_its_own_device(monkeypatch, tmp_path) -> None:
    """``prepare`` with kernels for two devices (DiTAC on CUDA: its lookup on the GPU, its table's
    flow on the CPU) builds them in one wait and loads each with its own device index."""
    from actlang import kernels

    monkeypatch.setenv("ACTLANG_CACHE_DIR", str(tmp_path))
    made = [kernels.Kernel(("actlang.cpab.flow_kernel:step_function", (4, True)), f"k{i}", f"kernel {i}", 6, False)
            for i in range(2)]  # fmt: skip
    first, second = torch.zeros(8, dtype=torch.float64), torch.ones(8, dtype=torch.float64)
    monkeypatch.setattr(kernels, "device_index", lambda x: 0 if x is first else -1)  # "cuda:0" and the CPU
    built, loaded = [], []
    monkeypatch.setattr(kernel_builder, "build_many", lambda specs: built.append(len(specs)) or [None] * len(specs))
    monkeypatch.setattr(kernel_cache, "load", lambda spec, index: (loaded.append(index) or object()) if built else None)
    assert kernels.prepare([(made[0], (first,) * 6), (made[1], (second,) * 6)], wait=True)
    assert built == [2] and loaded == [0, -1]  # one build of both; then each loaded for its device
