"""The primitive definitions, one ``define(...)`` each; importing this package registers them."""

from actlang.primitives import activations, cpab, elementary, operators  # noqa: F401
