"""The flow at the table's nodes as one TorchInductor kernel per step (training's table, fast).

:func:`~actlang.cpab.nodes.flow_with_partials` runs each step of the flow as some seventy numpy
operations over the lanes still moving: cheap per call, but every operation is a pass over
memory, and with one θ per channel the lanes are ``C·(grid + 1)`` (half a million at 256
channels: 99–106 ms per table on a 2-core x86 VM, 38 ms as kernels). Here the same step,
:func:`~actlang.cpab.nodes.step` (one definition, written over an array module), is one
AOTInductor kernel (:class:`actlang.kernels.Kernel`, built once per machine, ``nc`` and
boundary): one pass per step reads each lane's state and writes its next state and partials.

Lanes whose time is spent stay in the arrays (the kernel leaves them as they are, with zero
partials) until fewer than half are still moving; then the moving ones are gathered, as
:func:`~actlang.cpab.nodes.flow_with_partials` does at every step. The result has that
function's form (numpy arrays, the steps' partials for
:func:`~actlang.cpab.nodes.field_gradient`), so the tables' backward is unchanged.

``flow`` modes (from the module's ``fuse`` option and input size): ``"off"``, numpy;
``"built"``, the kernel where it is built already, else numpy; ``"auto"``, the same, and a
missing kernel is built in the background; ``"on"``, built now if missing (fuse=True). Below
:data:`MIN_LANES` lanes (a shared θ, a few channels) ``"built"`` and ``"auto"`` run numpy, which
is as fast there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from actlang import kernels
from actlang.cpab.nodes import step

# Below this many lanes (8 channels of the default 2,049 nodes) ``auto`` keeps numpy: a shared θ's
# 2,049 lanes took 0.60 ms per table either way, 4 channels 1.23 against 1.16 ms, while 16 channels
# took 5.2 against 2.7 ms (2-core x86 VM); fewer lanes do not pay for a background build.
MIN_LANES = 16_384
# The step's math lives there: an edit to either must not match a kernel file built before it.
KERNEL_DEPENDENCIES = ("actlang.cpab.nodes", "actlang.inductor_math")


def mode(fusion: str, numel: int) -> str:
    """The flow kernel's mode for a module's ``fusion`` (``"auto"``/``"on"``/``"off"``) and an input
    of ``numel`` values: as the lookup kernels, ``auto`` asks for a build only from
    :data:`actlang.kernels.MIN_NUMEL` inputs on (unit tests and toy models never start a compiler)
    and otherwise runs a kernel built already."""
    if fusion == "auto":
        return "auto" if numel >= kernels.MIN_NUMEL else "built"
    return fusion


def step_function(nc: int, bounded: bool) -> Callable[..., tuple[Tensor, ...]]:
    """The pure function of one step, float64 lanes throughout (``c`` holds integer values):
    ``(x, c, left, a, b, speed) -> (x, c, left, speed, ∂ψ/∂a, ∂ψ/∂b, ∂t/∂a, ∂t/∂b)``, ``a``/``b``
    the field in each lane's cell, ``speed`` the speed where each lane stopped. Lanes with no time
    left come back unchanged, with zero partials."""

    def one_step(x: Tensor, c: Tensor, left: Tensor, a: Tensor, b: Tensor, speed: Tensor) -> tuple[Tensor, ...]:
        moving = left > 0
        moved = step(x, c, left, a, b, nc, bounded, torch)
        cross = moving & moved.cross
        stops = moving & ~moved.cross
        partials = tuple(torch.where(moving, p, 0.0) for p in moved.partials)
        return (
            torch.where(cross, moved.edge, torch.where(moving, moved.psi, x)),
            torch.where(cross, c + torch.where(moved.rightward, 1.0, -1.0), c),
            torch.where(cross, left - moved.hit_time, 0.0),
            torch.where(stops, moved.speed, speed),
            *partials,
        )

    return one_step


_KERNELS: dict[tuple[int, bool], kernels.Kernel] = {}


def kernel(nc: int, bounded: bool) -> kernels.Kernel:
    """The step kernel for ``nc`` cells (made on first use)."""
    found = _KERNELS.get((nc, bounded))
    if found is None:
        recipe = ("actlang.cpab.flow_kernel:step_function", (nc, bounded))
        label = f"the CPAB flow step ({nc} cells)"
        found = _KERNELS[(nc, bounded)] = kernels.Kernel(recipe, "cpab_flow_step", label, like=6, single=False)
    return found


def usable(flow: str, nc: int, bounded: bool, lanes: Tensor) -> bool:
    """Whether the kernel runs for the mode ``flow`` (see the module's docstring); ``lanes``: an
    example argument (float64, one value per lane)."""
    if flow == "off" or not kernels.backend_available(lanes.device):
        if flow == "on":
            kernels.available(lanes.device, "on")  # raises: fuse=True without a compiler
        return False
    found = kernel(nc, bounded)
    args = (lanes,) * 6
    if flow != "on" and lanes.numel() < MIN_LANES:
        return False
    if flow == "built":
        return found.built(args)
    return found.built(args) or kernels.prepare([(found, args)], wait=flow == "on")


def flow_with_kernel(
    u: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray, t: float, bounded: bool, flow: str
) -> tuple[np.ndarray, np.ndarray, list] | None:
    """:func:`~actlang.cpab.nodes.flow_with_partials`'s ``(ψ, v(ψ), steps)`` through the step
    kernel, or None where the mode ``flow`` does not run it (the caller runs numpy)."""
    if flow == "off":
        return None
    nc = slopes.shape[-1]
    found = torch.tensor(u, dtype=torch.float64).reshape(-1)
    if not usable(flow, nc, bounded, found):
        return None
    run = kernel(nc, bounded)
    field_a, field_b = torch.from_numpy(slopes.reshape(-1)), torch.from_numpy(intercepts.reshape(-1))
    end_speed = torch.zeros_like(found)
    state = [found.clone(), torch.clamp(torch.floor(found * nc), 0, nc - 1), torch.full_like(found, float(t))]
    state.append(torch.zeros_like(found))  # x, c, left, speed
    base = torch.div(torch.arange(found.numel()), u.shape[-1], rounding_mode="floor") * nc
    lanes: Tensor | None = None  # None: every lane
    steps: list[tuple[Any, ...]] = []
    for _ in range(nc):
        moving = state[2] > 0
        count = int(moving.sum())
        if count == 0:
            break
        if 2 * count < moving.numel():  # gather the lanes still moving
            _write_back(found, end_speed, lanes, state)
            # index_select on 1-D tensors: 2-3x faster than tensor[index] (and than index_select
            # along dim 1 of a [2, n] table) at half a million lanes.
            keep = moving.nonzero().squeeze(1)
            lanes = keep if lanes is None else lanes.index_select(0, keep)
            state, base = [s.index_select(0, keep) for s in state], base.index_select(0, keep)
        cell = base + state[1].to(torch.int64)
        a, b = field_a.index_select(0, cell), field_b.index_select(0, cell)  # the field in each lane's cell
        x, c, left, speed, *partials = run(*state[:3], a, b, state[3])
        state = [x, c, left, speed]
        steps.append((None if lanes is None else lanes.numpy(), cell.numpy(), *(p.numpy() for p in partials)))
    _write_back(found, end_speed, lanes, state)
    return found.numpy().reshape(u.shape), end_speed.numpy().reshape(u.shape), steps


def _write_back(found: Tensor, end_speed: Tensor, lanes: Tensor | None, state: list[Tensor]) -> None:
    """ψ and the end speed of the lanes in ``state`` into the whole arrays."""
    if lanes is None:
        found.copy_(state[0])
        end_speed.copy_(state[3])
    else:
        found.index_copy_(0, lanes, state[0])
        end_speed.index_copy_(0, lanes, state[3])
