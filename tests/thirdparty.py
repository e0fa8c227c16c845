"""Importing the third-party model libraries the integration tests drive (timm, torchvision, HF).

The torchvision wheels on this project's package index are CUDA builds: with the CPU build of
torch their compiled extension does not load, torchvision then skips registering its C++ ops,
but its import still registers fake kernels for two of them (``nms``, ``qnms``) and fails with
``RuntimeError: operator torchvision::nms does not exist``. timm imports torchvision at import
time. When that happens the tests declare those two operator schemas (no kernels) and import
again: everything the tests use — timm's and torchvision's model code — is pure Python.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest
import torch

_SCHEMAS = ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
            "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_library: list[Any] = []  # keeps the fragment (and so its definitions) alive


def repair_torchvision() -> None:
    """Make ``import torchvision`` work if it is installed (see above); nothing if it is not.
    transformers imports it too when it is installed, for its vision models."""
    try:
        importlib.import_module("torchvision")
    except ImportError:
        return
    except RuntimeError as error:
        if "torchvision::" not in str(error) or _library:
            raise
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        fragment = torch.library.Library("torchvision", "FRAGMENT")
        for schema in _SCHEMAS:
            fragment.define(schema)
        _library.append(fragment)
        importlib.import_module("torchvision")


def import_torchvision() -> Any:
    """The real ``torchvision`` (skips the test when it is not installed)."""
    repair_torchvision()
    try:
        return importlib.import_module("torchvision")
    except ImportError:
        pytest.skip("torchvision is not installed (pip install -e '.[integrations]')")


def import_transformers() -> Any:
    """The real ``transformers`` (skips the test when it is not installed)."""
    repair_torchvision()
    try:
        return importlib.import_module("transformers")
    except ImportError:
        pytest.skip("transformers is not installed (pip install -e '.[integrations]')")


def import_timm() -> Any:
    """The real ``timm`` package (skips the test when it is not installed)."""
    repair_torchvision()
    try:
        return importlib.import_module("timm")
    except ImportError:
        pytest.skip("timm is not installed (pip install -e '.[integrations]')")
