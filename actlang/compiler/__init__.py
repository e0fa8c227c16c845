"""The compiler: actlang expressions -> PyTorch modules (SPEC §6).

Passes, one module each: :mod:`~actlang.compiler.rewrite` (idioms -> native kernels, AST -> AST),
:mod:`~actlang.compiler.codegen` (AST -> straight-line torch statements with shared
subexpressions), :mod:`~actlang.compiler.program` (cached per canonical text: generated class),
:mod:`~actlang.compiler.fused` (value and derivative in one autograd function),
:mod:`~actlang.compiler.module` (the ``nn.Module``), :mod:`~actlang.compiler.export` (files).
"""

from actlang.compiler.api import compile  # noqa: A004 - the SPEC's name
from actlang.compiler.export import FORMATS, export
from actlang.compiler.module import ActivationModule

__all__ = ["FORMATS", "ActivationModule", "compile", "export"]
