"""The symbolic layer (docs/symbolic.md): actlang ↔ sympy, simplification, derivatives, equivalence.

- :func:`to_sympy` / :func:`from_sympy` — AST ↔ sympy (:mod:`.lowering`, :mod:`.raising`), with
  one generated function class per non-native primitive (:mod:`.lowering`, from the facts in
  :mod:`.functions`); exponential ratios fold into sigmoids (:mod:`.exponentials`), sub-expressions
  into primitives (:mod:`.folding`). Imports point one way: symbols, functions, exponentials ←
  lowering ← folding ← the rest.
- :func:`simplify`, :func:`derivative` — results in registry primitives only (:mod:`.calculus`).
- :func:`equivalent` → :class:`Equivalence` (:mod:`.equivalence`; verdict semantics there).
- :func:`properties` → :class:`Properties` (:mod:`.properties`).

This package imports sympy; ``import actlang`` does not import it until one of these is used.
"""

from __future__ import annotations

from actlang.symbolic.calculus import derivative, simplify
from actlang.symbolic.equivalence import Equivalence, equivalent
from actlang.symbolic.functions import OpaqueFunction
from actlang.symbolic.lowering import ActFunction, elementary, to_sympy
from actlang.symbolic.properties import Properties, properties
from actlang.symbolic.raising import from_sympy
from actlang.symbolic.symbols import X, param_symbol

__all__ = [
    "ActFunction", "Equivalence", "OpaqueFunction", "Properties", "X", "derivative", "elementary",
    "equivalent", "from_sympy", "param_symbol", "properties", "simplify", "to_sympy",
]
