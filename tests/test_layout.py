"""The packaging layout: pyproject.toml's explicit package list and the folders it maps.

setuptools installs exactly the packages listed, so a new subpackage missing from the list would
be absent from wheels while every test (run from the checkout) still passes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import actlang
from actlang.lalr_build import _CHECKOUT_GRAMMAR, grammar_text

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _packages_under(folder: Path, prefix: str) -> set[str]:
    """Dotted names of the folders below ``folder`` (itself included) that hold an ``__init__.py``."""
    found = set()
    for init in folder.rglob("__init__.py"):
        relative = init.parent.relative_to(folder).parts
        found.add(".".join((prefix, *relative)))
    return found


def _data_folders_under(folder: Path, prefix: str) -> set[str]:
    """Dotted names of folders that ship data files and hold no Python code."""
    return {
        ".".join((prefix, *path.relative_to(folder).parts))
        for path in folder.rglob("*")
        if path.is_dir() and path.name != "__pycache__" and not any(path.glob("*.py"))
    }


def test_the_package_list_is_the_packages_under_actlang() -> None:
    listed = set(SETUPTOOLS["packages"])
    mapped = SETUPTOOLS.get("package-dir", {})
    on_disk = _packages_under(ROOT / "actlang", "actlang") | _data_folders_under(ROOT / "actlang", "actlang")
    for name, folder in mapped.items():
        on_disk |= _packages_under(ROOT / folder, name)
    assert listed == on_disk, f"listed only: {sorted(listed - on_disk)}; on disk only: {sorted(on_disk - listed)}"


def test_every_mapped_folder_exists_and_is_listed() -> None:
    for name, folder in SETUPTOOLS["package-dir"].items():
        assert (ROOT / folder / "__init__.py").is_file(), folder
        assert name in SETUPTOOLS["packages"], name


def test_package_data_patterns_match_files() -> None:
    mapped = SETUPTOOLS["package-dir"]
    for name, patterns in SETUPTOOLS["package-data"].items():
        folder = ROOT / mapped[name] if name in mapped else ROOT.joinpath(*name.split("."))
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"{name}: {pattern} matches no file in {folder}"


def test_the_grammar_is_read_from_the_top_level_folder() -> None:
    assert _CHECKOUT_GRAMMAR == ROOT / "grammar" / "actlang.lark"
    assert grammar_text() == _CHECKOUT_GRAMMAR.read_text(encoding="utf-8")
    assert not (ROOT / "actlang" / "grammar").exists()  # one copy only
    assert str(actlang.parse("add(relu(x),swish(x))")) == "relu(x) + silu(x)"
