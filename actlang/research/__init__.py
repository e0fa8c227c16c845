"""Research primitives with rich state: ASH (seed 001) and mixtures / AdAct (seed 003).

The registry records live in ``actlang/definitions/``; this package holds the ``nn.Module``
factories the compiler instantiates per site and their numpy references.
"""
