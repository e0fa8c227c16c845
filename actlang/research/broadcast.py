"""Per-channel values shaped to broadcast against an input, shared by the research site modules."""

from __future__ import annotations

import torch

from actlang.errors import ActlangError


def along(value: torch.Tensor, like: torch.Tensor, channel_dim: int) -> torch.Tensor:
    """``value`` (a scalar, or one entry per channel) shaped to broadcast against ``like``: its
    entries along ``channel_dim``, size 1 elsewhere."""
    return along_rank(value, like.dim(), channel_dim)


def along_rank(value: torch.Tensor, rank: int, channel_dim: int) -> torch.Tensor:
    """``value`` (a scalar, or one entry per channel) shaped to broadcast to ``rank`` dimensions
    with its entries at ``channel_dim``.

    A mixture places its weights by the rank of its branches' broadcast result (x's), not by one
    branch's: a branch need not be shaped like x (a per-channel learned value ``(C, 1, 1)``, a 0-d
    constant, a tensor of lower rank), and a weight placed by that branch's own rank would land on
    the wrong dimension.
    """
    if value.dim() == 0:
        return value
    if channel_dim >= rank or channel_dim < -rank:
        raise ActlangError(
            f"{value.shape[0]} per-channel values at dimension {channel_dim} need tensors of rank at least "
            f"{channel_dim + 1 if channel_dim >= 0 else -channel_dim}, got rank {rank}"
        )
    shape = [1] * rank
    shape[channel_dim] = value.shape[0]
    return value.reshape(shape)
