"""The grammar of the language, ``actlang.lark``, as the package ``actlang.grammar`` (see pyproject.toml)."""
