"""Per-channel values shaped to broadcast against an input, shared by the research site modules."""

from __future__ import annotations

import torch


def along(value: torch.Tensor, like: torch.Tensor, channel_dim: int) -> torch.Tensor:
    """``value`` (a scalar, or one entry per channel) shaped to broadcast against ``like``: its
    entries along ``channel_dim``, size 1 elsewhere."""
    if value.dim() == 0:
        return value
    shape = [1] * like.dim()
    shape[channel_dim] = value.shape[0]
    return value.reshape(shape)
