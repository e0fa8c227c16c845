"""Loading generated source: ``exec`` under a file name that ``inspect`` and TorchScript can read.

A leaf of the compiler: the program (``plain_forward`` and ``forward`` of each generated class) and
the fused training functions are both loaded here. Generated code sees ``torch``, ``F``
(``torch.nn.functional``), ``math`` and ``kernels`` (:mod:`actlang.definitions.torch_kernels`).
"""

from __future__ import annotations

import itertools
import linecache
import math
from typing import Any

_counter = itertools.count()
# What generated kernel functions call besides torch (kernel files are named by these sources too).
KERNEL_DEPENDENCIES = ("actlang.definitions.torch_kernels", "actlang.inductor_math")


def load_source(source: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """``exec`` generated code under a unique file name that ``inspect.getsource`` can read."""
    import torch
    import torch.nn.functional as F

    from actlang.definitions import torch_kernels as kernels

    filename = f"<actlang-generated-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    scope = {"torch": torch, "F": F, "math": math, "kernels": kernels, **namespace}
    exec(compile(source, filename, "exec"), scope)  # generated from the AST, never user text
    return scope


def generated_function(source: str, name: str) -> Any:
    """Function ``name`` of generated ``source``: how a kernel builder process (which has only the
    text) makes a generated kernel function again (:mod:`actlang.kernel_cache` recipes)."""
    return load_source(source, {})[name]
