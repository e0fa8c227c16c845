"""Parameters of a plotted activation from a state dict: the module's own, or a whole model's with
the activation's path (``--site layer3.act``), with per-channel values split into one state per
channel (``actlang.compile(expr, channels=C)`` stores C values for each scalar)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from actlang.errors import ActlangError

StateDict = Mapping[str, Any]  # name -> torch.Tensor


def load_state(state: str | Path | StateDict) -> StateDict:
    """A state dict, read from a file saved with ``torch.save(model.state_dict(), FILE)``."""
    import torch

    if isinstance(state, Mapping):
        return state
    try:
        loaded = torch.load(state, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load fails in many ways (OSError, UnpicklingError, KeyError, ...)
        raise ActlangError(f"cannot load a state dict from {state}: {error}") from None
    if not isinstance(loaded, Mapping):
        raise ActlangError(f"{state} holds a {type(loaded).__name__}, not a state dict")
    return loaded


def at_site(state: StateDict, wanted: list[str], site: str | None) -> dict[str, Any]:
    """The entries of the activation at ``site`` (prefix removed), or ``state`` itself.

    Without ``site``, a state dict that lacks the activation's own names but holds them under
    some prefixes (a whole model's) is an error that lists those prefixes."""
    if site:
        prefix = site.rstrip(".") + "."
        picked = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if not picked:
            found = ", ".join(sites(state, wanted)) or "none"
            raise ActlangError(f"the state dict has nothing at '{site}'; sites with this activation's "
                               f"parameters: {found}")
        return picked
    if wanted and not set(wanted) & set(state):
        found = sites(state, wanted)
        if found:
            raise ActlangError(f"the state dict is a model's: name the activation with --site (site=), one of "
                               f"{', '.join(found)}")
    return dict(state)


def sites(state: StateDict, wanted: list[str]) -> list[str]:
    """Prefixes P such that ``P.name`` is in ``state`` for every wanted name, in state order."""
    found: dict[str, None] = {}
    for key in state:
        for name in wanted:
            prefix = key[: -len(name) - 1]
            if key.endswith("." + name) and all(f"{prefix}.{n}" in state for n in wanted):
                found[prefix] = None
    return list(found)


def channel_states(module: Any, state: StateDict, site: str | None = None) -> list[dict[str, Any]]:
    """``state`` (at ``site``) as one state dict per channel for ``module`` (a plain compile).

    A parameter stored with one more leading dimension than ``module``'s is per-channel; every
    parameter must agree on it (that is what ``channels=C`` produces)."""
    own = module.state_dict()
    picked = at_site(state, list(own), site)
    extra = {k: picked[k].dim() - own[k].dim() for k in own if k in picked and hasattr(picked[k], "dim")}
    if not extra or set(extra.values()) == {0}:
        _check_fit(module, picked)
        return [picked]
    counts = {int(picked[k].shape[0]) for k, d in extra.items() if d == 1}
    if set(extra.values()) != {1} or len(counts) != 1:
        shapes = ", ".join(f"{k} {tuple(picked[k].shape)}" for k in extra)
        raise ActlangError(f"the state dict does not fit the expression: neither one value per parameter nor the same "
                           f"channels for all ({shapes})")
    states = [{k: (v[c] if k in extra else v) for k, v in picked.items()} for c in range(counts.pop())]
    _check_fit(module, states[0])
    return states


def _check_fit(module: Any, state: StateDict) -> None:
    """Load ``state`` into ``module``; a state that does not fit is an ActlangError naming the keys."""
    try:
        module.load_state_dict(dict(state), strict=True)
    except RuntimeError as error:
        wanted = ", ".join(module.state_dict()) or "none"
        raise ActlangError(f"the state dict does not fit the expression ({wanted} expected): {error}") from None


def override(module: Any, given: Mapping[str, float]) -> None:
    """Fill the named parameters of ``module`` with the given values (a tensor with its value)."""
    import torch

    parameters = dict(module.named_parameters())
    for name, value in given.items():
        if name not in parameters:
            listed = ", ".join(parameters) or "none"
            raise ActlangError(f"unknown parameter '{name}'; the expression's parameters: {listed}")
        with torch.no_grad():
            parameters[name].fill_(float(value))
