"""The primitive definitions, one ``define(...)`` each; importing this package registers them."""

from actlang.definitions import activations, ash, cpab, ecosystem, elementary, mix, operators  # noqa: F401
from actlang.definitions.lazy import definitions_loaded

definitions_loaded()
