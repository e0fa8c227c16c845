"""A minimal progress bar on stderr for long runs (shown on a terminal, or when asked)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts work done out of ``total`` and redraws one stderr line at most 5 times a second."""

    def __init__(
        self, total: int, label: str = "evaluating", enabled: bool | None = None, stream: TextIO | None = None
    ):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.label, self.done = max(1, total), label, 0
        self.start = self.last = time.perf_counter()

    def __call__(self, amount: float) -> None:
        self.done += amount
        now = time.perf_counter()
        if self.enabled and now - self.last >= 0.2:
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        share = min(1.0, self.done / self.total)
        bar = "#" * int(30 * share)
        self.stream.write(f"\r{self.label} [{bar:<30}] {int(self.done):,}/{self.total:,} {now - self.start:.1f}s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
