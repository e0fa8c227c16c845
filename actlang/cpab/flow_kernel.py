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

Below :data:`MIN_LANES` lanes (a shared θ, a few channels) the lanes are few and the steps
short, so torch's small operations between per-step calls cost what the kernel saves. There one
kernel runs :data:`STEPS_PER_CALL` steps of every lane, each lane reading its cell's field
itself, and is called again while any lane moves (one call for a prior-like θ).

``flow`` modes (from the module's ``fuse`` option and input size): ``"off"``, numpy;
``"built"``, the kernel where it is built already, else numpy; ``"auto"``, the same, and a
missing kernel is built in the background (a module's mode under ``fuse=True`` too: see
:func:`mode`); ``"on"``, built now if missing (benchmarks and tests that want the kernel).
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
# Below MIN_LANES the flow runs as calls of one kernel of this many steps over every lane (a
# prior-like θ's lanes stop within three): 2,049 lanes took 0.13 against numpy's 0.48 ms for the
# same three steps (2-core x86 VM). Per-step calls cost more than they saved there: each gathers
# the moving lanes and their cells' field with torch's small operations.
STEPS_PER_CALL = 3
# The step's math lives there: an edit to either must not match a kernel file built before it.
KERNEL_DEPENDENCIES = ("actlang.cpab.nodes", "actlang.inductor_math")


def mode(fusion: str, numel: int) -> str:
    """The flow kernel's mode for a module's ``fusion`` (``"auto"``/``"on"``/``"off"``) and an input
    of ``numel`` values: as the lookup kernels, ``auto`` asks for a build only from
    :data:`actlang.kernels.MIN_NUMEL` inputs on (unit tests and toy models never start a compiler)
    and otherwise runs a kernel built already. ``fuse=True`` does not wait for it: numpy's flow
    gives the same tables, so the kernel is built in the background (the largest of DiTAC's
    kernels: waiting for it took a cold first training step from 12 to 34 s, 2-core VM)."""
    if fusion == "off":
        return "off"
    return "auto" if fusion == "on" or numel >= kernels.MIN_NUMEL else "built"


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


def steps_function(nc: int, bounded: bool, count: int) -> Callable[..., tuple[Tensor, ...]]:
    """``count`` steps of every lane in one function, each lane reading its cell's field itself:
    ``(x, c, left, speed, row, field_a, field_b) -> (x, c, left, speed, then per step: the flat cell
    index (int64) and the four partials)``; ``row`` (float64, integer values) is each lane's row of
    cells in ``field_a``/``field_b`` (``[rows·nc]``)."""
    one_step = step_function(nc, bounded)

    def steps(x: Tensor, c: Tensor, left: Tensor, speed: Tensor, row: Tensor, field_a: Tensor,
              field_b: Tensor) -> tuple[Tensor, ...]:  # fmt: skip
        kept: list[Tensor] = []
        for _ in range(count):
            cell = (row * nc + c).to(torch.int64)
            x, c, left, speed, *partials = one_step(
                x, c, left, field_a.index_select(0, cell), field_b.index_select(0, cell), speed
            )
            kept += [cell, *partials]
        return (x, c, left, speed, *kept)

    return steps


_KERNELS: dict[tuple, kernels.Kernel] = {}


def kernel(nc: int, bounded: bool) -> kernels.Kernel:
    """The step kernel for ``nc`` cells (made on first use)."""
    found = _KERNELS.get((nc, bounded))
    if found is None:
        recipe = ("actlang.cpab.flow_kernel:step_function", (nc, bounded))
        label = f"the CPAB flow step ({nc} cells)"
        found = _KERNELS[(nc, bounded)] = kernels.Kernel(recipe, "cpab_flow_step", label, like=6, single=False)
    return found


def steps_kernel(nc: int, bounded: bool) -> kernels.Kernel:
    """The kernel of :data:`STEPS_PER_CALL` steps for ``nc`` cells (made on first use); one file per
    number of rows (the field's shape is fixed)."""
    found = _KERNELS.get((nc, bounded, STEPS_PER_CALL))
    if found is None:
        recipe = ("actlang.cpab.flow_kernel:steps_function", (nc, bounded, STEPS_PER_CALL))
        label = f"the CPAB flow's steps ({nc} cells)"
        found = kernels.Kernel(recipe, "cpab_flow_steps", label, like=5, single=False)
        _KERNELS[(nc, bounded, STEPS_PER_CALL)] = found
    return found


def choice(lanes: Tensor, field_a: Tensor, field_b: Tensor, nc: int, bounded: bool) -> tuple[kernels.Kernel, tuple]:
    """The kernel for a flow over ``lanes`` (float64, one value per lane) in the field ``field_a``,
    ``field_b`` (``[rows·nc]``), and example arguments it is keyed by: the kernel of several steps
    below :data:`MIN_LANES` lanes, the step kernel from it on."""
    if lanes.numel() < MIN_LANES:
        return steps_kernel(nc, bounded), (lanes,) * 5 + (field_a, field_b)
    return kernel(nc, bounded), (lanes,) * 6


def usable(flow: str, chosen: kernels.Kernel, args: tuple[Tensor, ...]) -> bool:
    """Whether the kernel ``chosen`` runs on ``args`` for the mode ``flow`` (see the module's
    docstring)."""
    if flow == "off" or not kernels.backend_available(args[0].device):
        if flow == "on":
            kernels.available(args[0].device, "on")  # raises: no compiler to build with
        return False
    if flow == "built":
        return chosen.built(args)
    return chosen.built(args) or kernels.prepare([(chosen, args)], wait=flow == "on")


def flow_with_kernel(
    u: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray, t: float, bounded: bool, flow: str
) -> tuple[np.ndarray, np.ndarray, list] | None:
    """:func:`~actlang.cpab.nodes.flow_with_partials`'s ``(ψ, v(ψ), steps)`` through a kernel, or
    None where the mode ``flow`` does not run it (the caller runs numpy): from :data:`MIN_LANES`
    lanes on the step kernel, below it the kernel of several steps."""
    if flow == "off":
        return None
    nc = slopes.shape[-1]
    found = torch.tensor(u, dtype=torch.float64).reshape(-1)
    field_a, field_b = torch.from_numpy(slopes.reshape(-1)), torch.from_numpy(intercepts.reshape(-1))
    few = found.numel() < MIN_LANES
    chosen, args = choice(found, field_a, field_b, nc, bounded)
    if not usable(flow, chosen, args):
        return None
    state = [found.clone(), torch.clamp(torch.floor(found * nc), 0, nc - 1), torch.full_like(found, float(t))]
    state.append(torch.zeros_like(found))  # x, c, left, speed
    row = torch.div(torch.arange(found.numel()), u.shape[-1], rounding_mode="floor")
    if few:
        state, steps = _calls(chosen, state, row.to(torch.float64), field_a, field_b, nc)
        return state[0].numpy().reshape(u.shape), state[3].numpy().reshape(u.shape), steps
    end_speed = torch.zeros_like(found)
    base = row * nc
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
        x, c, left, speed, *partials = chosen(*state[:3], a, b, state[3])
        state = [x, c, left, speed]
        steps.append((None if lanes is None else lanes.numpy(), cell.numpy(), *(p.numpy() for p in partials)))
    _write_back(found, end_speed, lanes, state)
    return found.numpy().reshape(u.shape), end_speed.numpy().reshape(u.shape), steps


def _calls(
    chosen: kernels.Kernel, state: list[Tensor], row: Tensor, field_a: Tensor, field_b: Tensor, nc: int
) -> tuple[list[Tensor], list]:
    """The flow as calls of the kernel of several steps, on every lane (a lane that has stopped
    stays where it is, with zero partials), until no lane moves: ``(state, steps)``. A lane
    crosses at most ``nc − 1`` edges, so ``nc`` steps finish every lane, as in numpy's loop."""
    steps: list[tuple[Any, ...]] = []
    for _ in range(-(-nc // STEPS_PER_CALL)):
        x, c, left, speed, *kept = chosen(*state, row, field_a, field_b)
        state = [x, c, left, speed]
        for first in range(0, len(kept), 5):
            cell, *partials = kept[first : first + 5]
            steps.append((None, cell.numpy(), *(p.numpy() for p in partials)))
        if not bool((left > 0).any()):
            break
    return state, steps


def _write_back(found: Tensor, end_speed: Tensor, lanes: Tensor | None, state: list[Tensor]) -> None:
    """ψ and the end speed of the lanes in ``state`` into the whole arrays."""
    if lanes is None:
        found.copy_(state[0])
        end_speed.copy_(state[3])
    else:
        found.index_copy_(0, lanes, state[0])
        end_speed.index_copy_(0, lanes, state[3])
