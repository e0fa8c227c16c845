"""Attribute names of learned scalars: the user's name wherever it is free, a renamed one elsewhere.

A free name ``beta`` becomes the parameter ``beta`` (``module.beta``, state-dict key ``beta``).
Some names cannot be a module attribute, or would break the generated ``self.<name>``:

- Python keywords (``class``, ``None``, ``lambda``): ``self.class`` is a syntax error;
- names the module already has (``forward``, ``cuda``, ``training``, ``channels``, ``code``):
  ``nn.Module`` refuses them, or the parameter would shadow the module's own state;
- names starting with ``_`` (``__class__``, ``_parameters``): ``nn.Module``'s private state, and
  Python's name mangling for ``__`` names;
- names of stateful sites (``prelu_0``, ``ditac_1``): the submodule of that primitive.

Such a name gets the attribute ``param_<name>`` (``param_forward``), with ``_`` appended until it
is unused, so two names of one expression never share an attribute. Locals of generated code
never collide with user names: every user name appears there behind a prefix (``p_``, ``a_``).
"""

from __future__ import annotations

import functools
import keyword
import re
from collections.abc import Iterable

from actlang.registry import primitives


def attribute_names(names: Iterable[str]) -> dict[str, str]:
    """The module attribute of each learned-scalar name (expression name -> attribute name)."""
    names = list(names)
    taken = {name for name in names if _usable(name)}
    result = {}
    for name in names:
        if name in taken:
            result[name] = name
            continue
        candidate = f"param_{name}"
        while candidate in taken or not _usable(candidate):
            candidate += "_"
        taken.add(candidate)
        result[name] = candidate
    return result


def _usable(name: str) -> bool:
    """Whether ``name`` can be a parameter attribute of a compiled module as it is."""
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith("_")
        and name not in _module_attributes()
        and _site_pattern().fullmatch(name) is None
    )


@functools.cache
def _module_attributes() -> frozenset[str]:
    """Names a compiled module has before any parameter: class attributes (methods, properties)
    and instance attributes that ``nn.Module.__init__`` and ``ActivationModule.__init__`` set."""
    from torch import nn

    from actlang.compiler.module import ActivationModule

    instance = set(vars(nn.Module())) | {"channels", "channel_dim", "memory_efficient", "program"}
    return frozenset(dir(ActivationModule)) | instance


@functools.cache
def _site_pattern() -> re.Pattern[str]:
    """``<stateful primitive>_<index>``: the submodule names of stateful sites."""
    stateful = sorted((re.escape(p.name) for p in primitives() if p.stateful), key=len, reverse=True)
    return re.compile(rf"(?:{'|'.join(stateful)})_\d+")
