"""The compiler: actlang expressions -> PyTorch modules (docs/compiler.md).

Passes, one module each: :mod:`~actlang.compiler.rewrite` (idioms -> native kernels, AST -> AST),
:mod:`~actlang.compiler.codegen` (AST -> straight-line torch statements with shared
subexpressions), :mod:`~actlang.compiler.program` (cached per canonical text: generated class),
:mod:`~actlang.compiler.chain` (reverse-mode chain rule as statements),
:mod:`~actlang.compiler.cost` (static price of generated statements),
:mod:`~actlang.compiler.fused` and :mod:`~actlang.compiler.sources` (value and derivatives in one
autograd function, the strategy chosen by the cost model),
:mod:`~actlang.compiler.module` (the ``nn.Module``), :mod:`~actlang.compiler.export` (files).
"""

from actlang.compiler.api import compile  # noqa: A004 - the public name
from actlang.compiler.export import FORMATS, export
from actlang.compiler.module import ActivationModule

__all__ = ["FORMATS", "ActivationModule", "compile", "export"]
