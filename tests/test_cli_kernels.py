"""``actlang kernels``, run as a user runs it (a subprocess on its own cache directory): the
summary, forgetting failed builds, clearing (never a running build's lock or partial file), and
building an activation's kernels ahead of time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actlang import kernels

needs_cxx = pytest.mark.skipif(kernels.cpp_compiler() is None, reason="no C++ compiler for inductor")


def actlang_kernels(cache: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "ACTLANG_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "actlang", "kernels", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def summary(cache: Path, *args: str) -> dict:
    done = actlang_kernels(cache, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A cache with two kernels, a failed build, a dead builder's lock and its leftovers, a live
    build (this process holds its lock) with its partial file, and a plan."""
    folder = tmp_path / "kernels"
    folder.mkdir()
    (folder / "value-1.pt2").write_bytes(b"k" * 1000)
    (folder / "backward-2.pt2").write_bytes(b"k" * 500)
    (folder / "forward-3.failed").write_text("RuntimeError: no code for this op\nmore lines")
    (folder / "forward-4.lock").write_text(str(dead_pid()))
    (folder / "forward-4.log").write_text("a builder's output")
    (folder / "forward-4.123.request.json").write_text("{}")
    (folder / "backward-5.lock").write_text(str(os.getpid()))
    (folder / ".backward-5-abc123.pt2").write_bytes(b"partial")
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "p.json").write_text("{}")
    return tmp_path


def test_the_summary_says_what_the_cache_holds(cache: Path) -> None:
    found = summary(cache)
    assert found["directory"] == str(cache / "kernels")
    assert (found["kernels"], found["bytes"], found["plans"]) == (2, 1500, 1)
    assert found["running"] == ["backward-5"]
    assert found["failed"] == {"forward-3": "RuntimeError: no code for this op"}
    assert found["leftovers"] == 3  # the dead lock, its log and its request
    text = actlang_kernels(cache).stdout
    assert "2 kernels" in text and "1 builds running" in text and "failed: forward-3: RuntimeError" in text


def test_retry_failed_forgets_only_the_failed_builds(cache: Path) -> None:
    found = summary(cache, "--retry-failed")
    assert found["forgotten"]["files"] == 1 and found["failed"] == {}
    assert found["kernels"] == 2 and (cache / "kernels" / "forward-4.log").exists()


def test_clear_keeps_only_a_running_build(cache: Path) -> None:
    found = summary(cache, "--clear")
    left = sorted(p.name for p in (cache / "kernels").iterdir())
    assert left == [".backward-5-abc123.pt2", "backward-5.lock"]
    assert found["removed"]["files"] == 7 and found["kernels"] == 0 and found["plans"] == 0
    assert summary(cache)["running"] == ["backward-5"]


def test_an_empty_or_missing_cache_is_summarised(tmp_path: Path) -> None:
    found = summary(tmp_path / "nothing-here")
    assert (found["kernels"], found["failed"], found["running"], found["plans"]) == (0, {}, [], 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channels", "4"], "--channels and --rank describe the inputs of --build"),
        (["--build", "relu("], "ParseError"),
        (["--build", "x*sigmoid(beta*x)", "--channels", "4", "--rank", "1"], "--rank must be at least 2"),
    ],
)
def test_bad_requests_exit_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    done = actlang_kernels(tmp_path, *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


@needs_cxx
def test_build_makes_the_files_a_later_process_loads(tmp_path: Path) -> None:
    """Build ahead of time into an empty cache; a second request finds everything there."""
    found = summary(tmp_path, "--build", "x*tanh(gamma*x)", "--channels", "3", "--rank", "2")
    assert found["built"] and all((tmp_path / "kernels" / name).exists() for name in found["built"])
    assert found["kernels"] == len(found["built"]) and found["failed"] == {}
    again = summary(tmp_path, "--build", "x*tanh(gamma*x)", "--channels", "3", "--rank", "2")
    assert again["built"] == [] and again["kernels"] == found["kernels"]
