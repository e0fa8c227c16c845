"""Sections of ``actlang demo``: each module here has ``TITLE``, ``ORDER`` and ``run(out)``.

Sections are discovered (sorted by ``ORDER``, then name), so a feature adds its part of the tour
by adding one module, without editing a shared list.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import TextIO

from actlang.errors import ActlangError


def sections() -> list[tuple[str, ModuleType]]:
    """``(name, module)`` of every section, in tour order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            if hasattr(module, "run"):
                found.append((info.name, module))
    return sorted(found, key=lambda item: (getattr(item[1], "ORDER", 100), item[0]))


def run_sections(names: list[str] | None, out: TextIO) -> int:
    """Run the named sections (all when ``names`` is empty); returns the exit code."""
    available = sections()
    if names:
        known = {name for name, _ in available}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ActlangError(f"unknown demo section '{unknown[0]}'", hint=f"sections: {', '.join(sorted(known))}")
        available = [(n, m) for n, m in available if n in names]
    for index, (_, module) in enumerate(available):
        if index:
            print(file=out)
        title = f"== {module.TITLE} =="
        print(title, file=out)
        module.run(out)
    return 0
