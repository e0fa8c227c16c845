"""The generated documentation is up to date with the registry."""

from __future__ import annotations

from pathlib import Path

import actlang
from actlang.docs import DOC_PATH, main, primitives_doc

ROOT = Path(__file__).resolve().parents[1]


def test_primitives_doc_is_current() -> None:
    assert DOC_PATH == ROOT / "docs" / "primitives.md"
    assert DOC_PATH.read_text() == primitives_doc(), "docs/primitives.md is out of date: run `make docs`"


def test_primitives_doc_lists_every_primitive_once() -> None:
    text = primitives_doc()
    for primitive in actlang.primitives():
        assert text.count(f"| `{primitive.signature()}` |") == 1, primitive.name


def test_check_mode(tmp_path: Path) -> None:
    target = tmp_path / "primitives.md"
    assert main(["--check", "--output", str(target)]) == 1
    assert main(["--output", str(target)]) == 0
    assert main(["--check", "--output", str(target)]) == 0


def test_docs_link_each_other() -> None:
    language = (ROOT / "docs" / "language.md").read_text()
    assert "primitives.md" in language and "performance.md" in language
    readme = (ROOT / "README.md").read_text()
    for page in ("docs/language.md", "docs/primitives.md", "docs/performance.md"):
        assert page in readme
