"""CPU machinery of the fast path: a per-thread scratch workspace, a gather split over two
threads, and a parallel scatter-add. Captured graphs (``torch.compile``) get plain ops.

Each keeps the values of the plain op bit for bit (the partial rows of :func:`accumulate` sum
in a different order, within rounding) and falls back to it for small inputs, one thread,
non-CPU devices and graph capture.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor


class _Workspace(threading.local):
    """Per-thread scratch buffers of the fused function, reused across calls and sites.

    Fresh multi-megabyte buffers cost page faults that can exceed the arithmetic on CPU; the
    intermediates of one forward or backward never escape it, so they can live here. Inputs
    above ``MAX_ELEMENTS`` (and graph capture) use fresh buffers; ``clear_workspace()`` frees.
    """

    MAX_ELEMENTS = 1 << 22

    def __init__(self) -> None:
        self.buffers: dict[tuple, Tensor] = {}
        self.tags: dict[tuple, object] = {}  # what a buffer holds, for reuse by a later call


_WORKSPACE = _Workspace()


def clear_workspace() -> None:
    """Free this thread's scratch buffers (int32 and int64 index, three float buffers of at most
    4M elements each: ≤ 96 MB for float32 inputs)."""
    _WORKSPACE.buffers.clear()
    _WORKSPACE.tags.clear()


def scratch(name: str, like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    dtype = like.dtype if dtype is None else dtype
    count = like.numel()
    if count > _WORKSPACE.MAX_ELEMENTS or tracing(like):
        return torch.empty(like.shape, dtype=dtype, device=like.device)
    key = (name, dtype, like.device)
    _WORKSPACE.tags.pop(key, None)  # whatever it held is about to be overwritten
    buffer = _WORKSPACE.buffers.get(key)
    if buffer is None or buffer.numel() < count:
        buffer = torch.empty(count, dtype=dtype, device=like.device)
        _WORKSPACE.buffers[key] = buffer
    return buffer[:count].view(like.shape)


def kept(name: str, like: Tensor, dtype: torch.dtype, tag: object) -> Tensor | None:
    """The workspace buffer ``name`` if it still holds what :func:`keep` tagged it with."""
    key = (name, dtype, like.device)
    if _WORKSPACE.tags.get(key) != tag:
        return None
    return _WORKSPACE.buffers[key][: like.numel()].view(like.shape)


def keep(name: str, like: Tensor, dtype: torch.dtype, tag: object) -> None:
    """Tag the workspace buffer ``name`` (just filled) with what it holds."""
    key = (name, dtype, like.device)
    if key in _WORKSPACE.buffers and like.numel() <= _WORKSPACE.MAX_ELEMENTS and not tracing(like):
        _WORKSPACE.tags[key] = tag


_HALVES: tuple[int, ThreadPoolExecutor] | None = None  # (the process that made it, the pool)


def select(table: Tensor, flat: Tensor, out: Tensor) -> Tensor:
    """``out = table.flatten()[flat]`` (``out`` shaped like the input, ``flat`` its flat index).

    ``index_select`` from a 1-D table runs on one thread on CPU. For large inputs, when torch
    may use several threads, one helper thread gathers the first half while this one gathers
    the second (the GIL is released inside the kernel): about 1.5× faster with two cores.
    """
    if tracing(flat):  # one plain gather in the captured graph
        return torch.index_select(table.reshape(-1), 0, flat, out=out.view(-1)).view_as(out)
    table, target = table.reshape(-1), out.view(-1)
    count = flat.numel()
    if count < 1 << 17 or torch.get_num_threads() < 2 or not table.device.type == "cpu":
        torch.index_select(table, 0, flat, out=target)
        return out
    global _HALVES
    if _HALVES is None or _HALVES[0] != os.getpid():  # a forked child has no worker thread
        _HALVES = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="actlang-gather"))
    half = count // 2
    first = _HALVES[1].submit(_gather_no_grad, table, flat[:half], target[:half])
    torch.index_select(table, 0, flat[half:], out=target[half:])
    first.result()
    return out


def _gather_no_grad(table: Tensor, flat: Tensor, target: Tensor) -> None:
    # Grad mode is per thread: the helper's must match the fused function's (off).
    with torch.no_grad():
        torch.index_select(table, 0, flat, out=target)


def tracing(tensor: Tensor) -> bool:
    """True while torch.compile captures the function: dynamo traces the forward
    (``is_compiling``), AOTAutograd the backward with fake or functional tensors (where
    ``is_compiling`` is False). Captured code gets fresh buffers and plain ops, never the
    workspace or the helper thread (tracing state is per thread)."""
    return torch.compiler.is_compiling() or type(tensor) is not torch.Tensor


ROWS = 8  # independent partial sums of the tables' gradients


def accumulate(table: Tensor, flat: Tensor, weight: Tensor) -> Tensor:
    """``Σ weight`` per entry of ``table`` (shaped like it), entries given by the int64 ``flat``.

    ``scatter_add_`` into one vector runs on one thread (every input may hit any entry); split
    into ``ROWS`` rows scattered into ``ROWS`` partial tables, it runs in parallel and the
    rows are summed after — about twice as fast with two threads, and still deterministic.
    """
    size = table.numel()
    count = flat.numel()
    if count < ROWS * 4096 or count % ROWS:
        return torch.zeros_like(table).view(-1).scatter_add_(0, flat, weight).view_as(table)
    partial = torch.zeros(ROWS, size, dtype=table.dtype, device=table.device)
    partial.scatter_add_(1, flat.view(ROWS, -1), weight.view(ROWS, -1))
    return partial.sum(0).view_as(table)
