"""The primitive definitions, one ``define(...)`` each; importing this package registers them."""

from actlang.primitives import activations, elementary, operators  # noqa: F401
