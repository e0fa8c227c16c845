"""The import graph of ``actlang/``: no cycles, and layers that point one way (docs/architecture.md).

The graph is read from the source with :mod:`ast`, not by importing: every ``import`` and
``from ... import`` anywhere in a module (inside functions too, since a deferred import is still a
dependency), relative imports resolved, ``from actlang.x import y`` counted as importing the
submodule ``actlang.x.y`` when there is one, and ``importlib.import_module("actlang...")`` with a
literal name. Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first: a module may import modules of its own layer or of a lower one, never a higher one.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("actlang.errors", "actlang.exact", "actlang.lalr", "actlang.lalr_build", "actlang.lalr_tables",
              "actlang.lark_tables", "actlang.kernels", "actlang.kernel_cache", "actlang.kernel_builder",
              "actlang.kernel_plans", "actlang.inductor_math", "actlang.cpab")),
    (
        "language",
        (
            "actlang.ast", "actlang.hyper", "actlang.registry", "actlang.definitions", "actlang.printer",
            "actlang.build", "actlang.parser", "actlang.parse_errors", "actlang.evaluate", "actlang.constant",
        ),
    ),
    ("symbolic", ("actlang.symbolic",)),
    ("compiler", ("actlang.compiler",)),
    ("models", ("actlang.research", "actlang.models", "actlang.layers", "actlang.carry", "actlang.plot")),
    ("search", ("actlang.search",)),
    ("interface", ("actlang", "actlang.__main__", "actlang.cli", "actlang.demos", "actlang.docs")),
)


def module_files(package: Path, name: str) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``) for every ``.py`` under ``package``."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = [name, *path.relative_to(package).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    return skipped


def _imported_names(module: str, is_package: bool, tree: ast.Module) -> list[tuple[str, ...]]:
    """What ``module`` imports: for each import, the dotted names that may be the module imported,
    most specific first (``from a import b``: ``a.b`` if that is a module, else ``a``)."""
    skipped = _type_checking_only(tree)
    names: list[tuple[str, ...]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names += [(alias.name,) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            names += [(f"{source}.{alias.name}", source) for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) in ("importlib.import_module", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append((node.args[0].value,))
    return names


def import_graph(package: Path, name: str) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (a package's ``__init__`` that runs first
    because a submodule is imported is not counted: every import would depend on the root)."""
    modules = module_files(package, name)

    def resolve(candidates: tuple[str, ...]) -> str | None:
        if len(candidates) > 1 and candidates[0] in modules:  # from a import b, b a module
            return candidates[0]
        dotted = candidates[-1]
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    graph = {}
    for module, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets = set()
        for candidates in _imported_names(module, is_package, tree):
            if candidates[-1] == name or candidates[-1].startswith(name + "."):
                target = resolve(candidates)
                if target is not None and target != module:
                    targets.add(target)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    return "; ".join(f"{m} -> {', '.join(sorted(graph[m] & members))}" for m in component)


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of the longest prefix naming ``module``'s layer."""
    best, level = "", -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, level = prefix, i
    return level


GRAPH = import_graph(ROOT / "actlang", "actlang")


def test_the_package_has_no_import_cycle() -> None:
    found = cycles(GRAPH)
    assert not found, "import cycles:\n" + "\n".join(_describe(c, GRAPH) for c in found)


def test_every_module_has_a_layer() -> None:
    assert [m for m in GRAPH if layer_of(m) < 0] == []


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("actlang.compiler", "actlang.research"),
        ("actlang.compiler", "actlang.search"),
        ("actlang.compiler", "actlang.cli"),
        ("actlang.compiler", "actlang.models"),
        ("actlang.symbolic", "actlang.compiler"),
        ("actlang.research", "actlang.search"),
        ("actlang.ast", "actlang.printer"),
        ("actlang.registry", "actlang.definitions"),
        ("actlang.build", "actlang.parser"),
    ],
)
def test_no_import_from(lower: str, higher: str) -> None:
    """The edges the layering removed, named one by one (the table above implies them)."""
    offending = [
        (m, t)
        for m, targets in GRAPH.items()
        if m == lower or m.startswith(lower + ".")
        for t in targets
        if t == higher or t.startswith(higher + ".")
    ]
    assert offending == []


def test_no_module_imports_the_package_facade() -> None:
    """``actlang/__init__`` re-exports everything and imports the compiler and search on demand,
    so a module below the interface that imports it closes a cycle through them."""
    importers = [m for m, targets in GRAPH.items() if "actlang" in targets and layer_of(m) < len(LAYERS) - 1]
    assert importers == []


def test_the_compiler_module_class_imports_nothing_from_the_compiler() -> None:
    assert {t for t in GRAPH["actlang.compiler.module"] if t.startswith("actlang.compiler")} == set()


# ---- the graph reader itself, on a package written here ----------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_reader_sees_function_level_relative_and_submodule_imports(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "a.py": "def f():\n    from pkg.b import helper\n",
        "b.py": "from . import c\n",
        "c.py": "import importlib\nimportlib.import_module('pkg.sub.d')\n",
        "sub/__init__.py": "",
        "sub/d.py": "from ..a import f\n",
        "e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.a"] == {"pkg.b"}
    assert graph["pkg.b"] == {"pkg.c"}
    assert graph["pkg.c"] == {"pkg.sub.d"}
    assert graph["pkg.sub.d"] == {"pkg.a"}
    assert graph["pkg.e"] == set()
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.sub.d"]]


def test_reader_reports_no_cycle_in_a_chain(tmp_path: Path) -> None:
    root = _package(tmp_path, {"a.py": "import pkg.b\n", "b.py": "from pkg import c\n", "c.py": "x = 1\n"})
    graph = import_graph(root, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.c"}
    assert cycles(graph) == []
