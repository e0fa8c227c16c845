"""Each fusable program's plan, kept beside the kernel files: its generated kernels and the cost
model's verdicts (JSON), keyed by the program's source and a hash of actlang's own code, so that a
later process needs no symbolic work to use them (``$ACTLANG_CACHE_DIR/plans``, see
:func:`actlang.kernel_cache.cache_dir`)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from actlang.kernel_cache import FORMAT, cache_dir


def load_plan(identity: str) -> dict[str, Any] | None:
    """What :func:`store_plan` stored for ``identity`` (a program's generated source) by this
    version of actlang's code, or None."""
    try:
        return json.loads(_plan_path(identity).read_text())
    except (OSError, ValueError):
        return None


def store_plan(identity: str, plan: dict[str, Any]) -> None:
    """Keep ``plan`` (JSON data) for ``identity``; silently nothing where the cache is not writable."""
    path = _plan_path(identity)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(prefix=".plan-", suffix=".json", dir=path.parent)
        with os.fdopen(handle, "w") as out:
            json.dump(plan, out)
        os.replace(partial, path)
    except OSError:
        return


def _plan_path(identity: str) -> Path:
    key = hashlib.sha256(f"{FORMAT}\n{_code_version()}\n{identity}".encode()).hexdigest()[:32]
    return cache_dir().parent / "plans" / f"{key}.json"


_code_hash: list[str] = []


def _code_version() -> str:
    """A hash of actlang's own source files: a plan made by other code (an edited derivative
    rule, a new cost model) cannot match."""
    if not _code_hash:
        root = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
        _code_hash.append(digest.hexdigest())
    return _code_hash[0]
