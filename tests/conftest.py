"""Test configuration: hypothesis profiles. CI (`make test`) selects the derandomized ``ci`` one."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config) -> None:
    """A fresh actlang cache per test session whose ``kernels/`` is the user's: kernel files are
    named by everything their code depends on, so a later run reuses them (building one takes
    seconds), while the cost model's stored verdicts (``plans/``) start empty, so that tests see
    this run's decisions."""
    if "ACTLANG_CACHE_DIR" in os.environ and os.environ.get("ACTLANG_TEST_CACHE") == "1":
        return  # a subprocess of this session (xdist workers inherit the controller's)
    from actlang import kernel_cache

    kernels = kernel_cache.cache_dir()
    kernels.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="actlang-test-cache-"))
    (root / "kernels").symlink_to(kernels, target_is_directory=True)
    config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))  # the link, not the kernels
    os.environ["ACTLANG_CACHE_DIR"] = str(root)
    os.environ["ACTLANG_TEST_CACHE"] = "1"


@pytest.fixture
def no_time_to_tidy(monkeypatch):
    """``actlang.derivative`` as on a loaded machine: tidying runs out of time, so the untidy
    chain-rule form is the answer."""
    from actlang.symbolic import calculus

    given = calculus.run_with_limit

    def limited(function, limit):
        if function.__name__ == "tidy":
            raise calculus.TimeUp()
        return given(function, limit)

    monkeypatch.setattr(calculus, "run_with_limit", limited)
