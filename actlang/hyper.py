"""Hyperparameters of primitives: fixed at parse time, typed and bounded (``Hyper``).

Kept apart from :mod:`actlang.registry`, which re-exports :class:`Hyper` and :data:`REQUIRED`
for the definitions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from actlang.ast import HyperValue

HyperKind = Literal["float", "int", "bool", "choice"]
REQUIRED: Any = object()  # default of a hyperparameter the user must give


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter: fixed at parse time, never learned.

    ``low``/``high`` bound numeric values; ``open_low``/``open_high`` make the bound strict.
    """

    name: str
    kind: HyperKind
    default: Any = REQUIRED
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if self.default is not REQUIRED:  # defaults are stored canonical, like parsed values
            object.__setattr__(self, "default", self.coerce(self.default))

    def describe(self) -> str:
        """Human-readable type and range, e.g. ``float > 0`` or ``one of none, tanh``."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        parts = [self.kind]
        if self.low is not None:
            parts.append(f"{'>' if self.open_low else '>='} {_bound(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.open_high else '<='} {_bound(self.high)}")
        return " ".join(parts)

    def coerce(self, value: HyperValue) -> HyperValue:
        """The canonical value for ``value``, or raise ``ValueError`` saying what was expected."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError(f"expected true or false, got {value!r}")
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise ValueError(f"expected {self.describe()}, got {show(value)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number ({self.describe()}), got {show(value)}")
        if self.kind == "int":
            if not float(value).is_integer():
                raise ValueError(f"expected an integer, got {show(value)}")
            value = int(value)
        else:
            value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {show(value)}")
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            raise ValueError(f"expected {self.describe()}, got {show(value)}")
        if self.high is not None and (value > self.high or (self.open_high and value == self.high)):
            raise ValueError(f"expected {self.describe()}, got {show(value)}")
        return value


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"  # 1048576, not 1.04858e+06


def show(value: HyperValue) -> str:
    """A hyperparameter value as actlang writes it (``true``, ``'tanh'``, ``0.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    return f"{value:g}"
