"""Row storage for the numeric and symbolic rules: blocks of float32 rows read as one matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Rows:
    """The rows of ``blocks`` stacked, without copying them into one array.

    Supports ``len``, and indexing by a slice or an integer array (returning a new array).
    """

    def __init__(self, blocks: Sequence[np.ndarray]):
        self.blocks = [b for b in blocks if len(b)]
        self.offsets = np.cumsum([0, *(len(b) for b in self.blocks)])
        self.width = self.blocks[0].shape[1] if self.blocks else 0

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: slice | np.ndarray) -> np.ndarray:
        ids = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index, np.int64)
        if len(self.blocks) == 1:
            return self.blocks[0][ids]
        out = np.empty((len(ids), self.width), np.float32)
        block = np.searchsorted(self.offsets, ids, side="right") - 1
        for b in np.unique(block):
            sel = block == b
            out[sel] = self.blocks[b][ids[sel] - self.offsets[b]]
        return out
