"""The built-in tasks and ``load_task``: a name, a ``"package.module:factory"`` path, or a Task.

- ``mnist1d``: MNIST-1D (4,000 training and 1,000 validation signals of length 40, generated
  offline by the ``mnist1d`` package's procedural generator, cached on disk) and the package's
  3-layer CNN (25 channels, kernels 5-3-3, stride 2), 1,500 Adam steps of 100 at lr 1e-2.
  The 1-D convolutions are ``Conv2d`` with a 1×k kernel on a height-1 image, the same function,
  so K-FAC libraries that know ``Conv2d`` cover every layer.
- ``digits``: scikit-learn's 8×8 digits (1,297 training, 500 validation images), a 2-layer CNN,
  300 Adam steps of 64.
- ``mnist1d-fast`` / ``digits-fast``: the same with 200 / 100 steps, for tests and smoke runs.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from actlang.errors import ActlangError
from actlang.search.task import Activation, ClassificationTask, Dataset, Task

MNIST1D_SEED = 42  # the package's default generator seed


def cache_dir() -> Path:
    """Where generated data sets are kept: ``$ACTLANG_CACHE``, else ``$XDG_CACHE_HOME/actlang``."""
    root = os.environ.get("ACTLANG_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "actlang"
    return Path(root)


def mnist1d_data() -> Dataset:
    """MNIST-1D with the package's default arguments (seed 42), generated once and cached."""
    path = cache_dir() / f"mnist1d-{MNIST1D_SEED}.npz"
    if not path.exists():
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError as error:
            raise ActlangError("the mnist1d task needs the 'mnist1d' package: pip install 'actlang[search]'") from error
        args = get_dataset_args()
        args.seed = MNIST1D_SEED
        raw = make_dataset(args)
        _save_atomic(path, x=raw["x"], y=raw["y"], x_test=raw["x_test"], y_test=raw["y_test"])
    with np.load(path) as arrays:
        return Dataset(
            arrays["x"].astype(np.float32)[:, None, None, :],
            arrays["y"].astype(np.int64),
            arrays["x_test"].astype(np.float32)[:, None, None, :],
            arrays["y_test"].astype(np.int64),
            10,
        )


def _save_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write an .npz so that a concurrent reader never sees half a file (rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
        np.savez(handle, **arrays)
    os.replace(handle.name, path)


def mnist1d_network(activation: Activation, channels: int = 25):
    """The MNIST-1D CNN: three stride-2 convolutions (kernels 5, 3, 3), each followed by the
    activation, then a linear layer on the 25×5 features."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, channels, (1, 5), stride=(1, 2), padding=(0, 1)), activation(),
        nn.Conv2d(channels, channels, (1, 3), stride=(1, 2), padding=(0, 1)), activation(),
        nn.Conv2d(channels, channels, (1, 3), stride=(1, 2), padding=(0, 1)), activation(),
        nn.Flatten(), nn.Linear(channels * 5, 10),
    )


def digits_data() -> Dataset:
    """scikit-learn's digits scaled to [0, 1]; a fixed permutation (seed 0) puts 500 aside."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ActlangError("the digits task needs scikit-learn: pip install 'actlang[search]'") from error
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    order = np.random.RandomState(0).permutation(len(x))
    val, train = order[:500], order[500:]
    return Dataset(x[train], y[train], x[val], y[val], 10)


def digits_network(activation: Activation):
    """A small CNN for 8×8 images: conv 16 (3×3), conv 32 (3×3, stride 2), linear."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), activation(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), activation(),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 10),
    )


BUILTIN: dict[str, Callable[[], Task]] = {
    "mnist1d": lambda: ClassificationTask("mnist1d", mnist1d_data, mnist1d_network, steps=1500, batch_size=100),
    "mnist1d-fast": lambda: ClassificationTask("mnist1d-fast", mnist1d_data, mnist1d_network, steps=200),
    "digits": lambda: ClassificationTask("digits", digits_data, digits_network, steps=300, batch_size=64),
    "digits-fast": lambda: ClassificationTask("digits-fast", digits_data, digits_network, steps=100, batch_size=64),
}


@functools.lru_cache(maxsize=16)
def _load_named(spec: str) -> Task:
    if spec in BUILTIN:
        return BUILTIN[spec]()
    if ":" not in spec:
        raise ActlangError(f"unknown task {spec!r}; built-in tasks: {', '.join(BUILTIN)}; or 'package.module:factory'")
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ActlangError(f"cannot load task {spec!r}: {error}") from error
    except Exception as error:  # the module itself raised on import (a user's bug)
        raise ActlangError(f"cannot load task {spec!r}: importing {module_name!r} raised {_describe(error)}") from error
    task = _call_factory(spec, factory) if callable(factory) and not isinstance(factory, Task) else factory
    if not isinstance(task, Task):
        raise ActlangError(f"task {spec!r} must be an actlang.search.Task or a factory returning one, got {task!r}")
    if not getattr(task, "name", None):
        task.name = spec
    return task


def _call_factory(spec: str, factory: Callable[[], object]) -> object:
    """``factory()``, its failures as one-line ActlangErrors naming the factory: a factory that
    needs arguments (checked before calling it: ``os:system`` runs nothing), or one that raises."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins have no signature: calling it says
        signature = None
    if signature is not None:
        try:
            signature.bind()
        except TypeError as error:
            raise ActlangError(f"task factory {spec!r} needs arguments {signature} ({error}); a task factory is "
                               "called without arguments") from None
    try:
        return factory()
    except ActlangError as error:
        raise ActlangError(f"task factory {spec!r} failed: {error.message}") from error
    except Exception as error:  # a user's code: any exception type
        raise ActlangError(f"task factory {spec!r} failed: {_describe(error)}") from error


def _describe(error: BaseException) -> str:
    """``Type: message`` on one line (the first line of the message)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def load_task(spec: str | Task) -> Task:
    """A task from a built-in name, ``"package.module:factory"``, or a :class:`Task` itself."""
    if isinstance(spec, Task):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ActlangError(f"a task is a name or 'package.module:factory', got {spec!r}")
    return _load_named(spec)
