"""The documentation site (mkdocs.yml, ``make docs-site``): it builds with ``--strict``, every page of
docs/ is in it, the API reference has the SPEC's public names, and a broken link or a missing API
object fails the build. The hooks (README as the home page, links out of docs/, reST docstrings)
are checked on their own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")
yaml = pytest.importorskip("yaml")

import mkdocs_hooks  # noqa: E402 - after the skips: it imports mkdocs and griffe

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = [  # SPEC §§2-7: what a user calls, each one an entry of the API page
    "parse", "format", "evaluate", "primitives", "compile", "export", "replace_activations", "act_layer",
    "collapse", "regularization", "to_sympy", "simplify", "derivative", "equivalent", "enumerate",
    "deduplicate", "features", "fisher_features", "Task", "Surrogate", "Study", "simulate",
]


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=config.parent)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT / "mkdocs.yml", out)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    return out


def test_every_docs_page_is_built_and_in_the_nav(site: Path) -> None:
    listed = set(_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]))
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert page.name in listed, f"{page.name} is not in mkdocs.yml's nav"
        assert (site / page.stem / "index.html").is_file(), page.name
    assert (site / "index.html").is_file()


def _pages(nav: object) -> list[str]:
    """The file names in a MkDocs nav (nested lists of {title: file or nav})."""
    if isinstance(nav, str):
        return [nav]
    items = nav.values() if isinstance(nav, dict) else nav
    return [page for item in items for page in _pages(item)]


def test_home_page_is_the_readme_with_links_to_the_pages(site: Path) -> None:
    home = (site / "index.html").read_text()
    assert "make demo" in home  # a line of README.md
    assert 'href="language/"' in home and 'href="docs/language.md"' not in home


def test_api_reference_has_the_public_names(site: Path) -> None:
    api = (site / "api" / "index.html").read_text()
    for name in PUBLIC:
        assert f'<code>{name}</code>' in api or f">{name}</span>" in api, name
    assert ":func:" not in api and ":class:" not in api  # reST roles are turned into code
    assert 'class="language-pycon' in api or "highlight" in api


def test_primitives_table_is_a_page(site: Path) -> None:
    page = (site / "primitives" / "index.html").read_text()
    assert "<table>" in page and "hard_sigmoid" in page
    assert "elu[α=1.673263](x)" in page  # brackets in a meaning are text, not a link


def _project(tmp_path: Path, page: str) -> Path:
    """docs/ (an empty API page) plus ``page``, with the real configuration (theme, validation,
    hooks, mkdocstrings) and the nav MkDocs makes itself."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    (tmp_path / "docs" / "api.md").write_text("# API reference\n")  # the README links it; its entries are slow
    (tmp_path / "docs" / "page.md").write_text(page)
    del config["nav"]
    config["docs_dir"] = str(tmp_path / "docs")
    config["hooks"] = [str(ROOT / "mkdocs_hooks.py")]
    python = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]
    python["paths"] = [str(ROOT)]
    python["options"]["extensions"] = [f"{ROOT / 'mkdocs_hooks.py'}:ReSTDocstrings"]
    path = tmp_path / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_strict_build_fails_on_broken_links(tmp_path: Path) -> None:
    page = (
        "# Page\n\nSee [the language](no_such_page.md), [a heading](language.md#no-such-heading) "
        "and ![a figure](images/none.svg).\n"
    )
    result = build(_project(tmp_path, page), tmp_path / "site")
    assert result.returncode != 0
    for complaint in ("no_such_page.md", "no-such-heading", "images/none.svg"):
        assert complaint in result.stderr


def test_strict_build_fails_on_a_missing_api_object(tmp_path: Path) -> None:
    result = build(_project(tmp_path, "# Page\n\n::: actlang.no_such_function\n"), tmp_path / "site")
    assert result.returncode != 0
    assert "actlang.no_such_function" in result.stderr


def test_the_copied_project_builds_when_nothing_is_broken(tmp_path: Path) -> None:
    # The failures above are the broken reference's, not the project's.
    result = build(_project(tmp_path, "# Page\n\nSee [language](language.md).\n\n::: actlang.parse\n"), tmp_path / "s")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("folder", "text", "expected"),
    [
        ("", "[language](docs/language.md)", "[language](language.md)"),
        ("", "[cli](docs/performance.md#command-line-start-up)", "[cli](performance.md#command-line-start-up)"),
        ("docs", "[grammar](../grammar/actlang.lark)", "grammar (`grammar/actlang.lark`)"),
        ("docs", "[missing](../no/such/file.py)", "[missing](../no/such/file.py)"),  # left for --strict
        ("docs", "[page](symbolic.md)", "[page](symbolic.md)"),
        ("docs", "[web](https://pytorch.org/docs)", "[web](https://pytorch.org/docs)"),
        ("", "```sh\n[x](docs/language.md)\n```", "```sh\n[x](docs/language.md)\n```"),  # code is code
    ],
)
def test_links_out_of_docs(folder: str, text: str, expected: str) -> None:
    assert mkdocs_hooks._outside_links(text, folder) == expected


@pytest.mark.parametrize(
    ("docstring", "expected"),
    [
        (":func:`~actlang.evaluate` at xs", "`evaluate` at xs"),
        (":class:`actlang.errors.ActlangError`", "`actlang.errors.ActlangError`"),
        ("Lists.\n\n>>> f([1])\n['a', 'b']\n\nMore.", "Lists.\n\n```pycon\n>>> f([1])\n['a', 'b']\n```\n\nMore."),
        ("End.\n\n    >>> g()\n    1", "End.\n\n```pycon\n>>> g()\n1\n```"),
        ("No roles, no prompts.", "No roles, no prompts."),
    ],
)
def test_docstrings_become_markdown(docstring: str, expected: str) -> None:
    assert mkdocs_hooks._markdown(docstring) == expected


def test_api_entries_are_functions_and_classes_not_modules() -> None:
    # `::: actlang.evaluate` would document the module actlang/evaluate.py, not the function it
    # defines (the names coincide); the page asks for what it means, as the docs build sees it.
    import griffe

    package = griffe.load("actlang", search_paths=[str(ROOT)])
    entries = re.findall(r"^::: (\S+)", (ROOT / "docs" / "api.md").read_text(), re.M)
    assert len(entries) >= len(PUBLIC)
    for path in entries:
        if path != "actlang.errors":  # the one module documented whole
            assert package[path.removeprefix("actlang.")].kind is not griffe.Kind.MODULE, path
