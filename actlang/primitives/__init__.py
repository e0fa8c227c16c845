"""The primitive definitions, one ``define(...)`` each; importing this package registers them."""

from actlang.primitives import activations, ash, cpab, ecosystem, elementary, mix, operators  # noqa: F401
from actlang.primitives.lazy import definitions_loaded

definitions_loaded()
