"""Start-up of the command line: ``actlang --help``, every ``actlang COMMAND --help`` and the text
commands import neither torch nor sympy (what they would cost: seconds, docs/performance.md).

The checks look at ``sys.modules`` of a fresh interpreter, not at the clock, so a loaded machine
cannot make them flaky."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from actlang.cli import COMMANDS, build_parser, main

HEAVY = ("torch", "sympy", "numpy", "scipy", "matplotlib", "transformers", "pandas", "sklearn")
# Commands whose options list what the search package defines (presets, strategies, tasks): their
# own --help imports numpy and scipy, still neither torch nor sympy.
SEARCH_COMMANDS = {"enumerate", "search"}


def loaded_after(*argvs: list[str], code: str = "", watch: tuple[str, ...] = HEAVY) -> set[str]:
    """The modules of ``watch`` (the heavy packages) that a fresh interpreter holds after ``code``
    and ``actlang ARGV`` for each argv (--help and --version end in SystemExit; the modules are
    listed all the same)."""
    program = "import sys, contextlib, io\n" + code + "\nfrom actlang.cli import main\n"
    for argv in argvs:
        program += f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): main({argv!r})\n"
    program += f"print('loaded:', *(m for m in {watch!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True)
    marker, *names = out.stdout.split()
    assert marker == "loaded:", out.stdout + out.stderr  # the program ran to its end
    return set(names)


def test_importing_the_cli_is_light() -> None:
    assert loaded_after(code="import actlang, actlang.cli") == set()


def test_help_imports_nothing_heavy() -> None:
    assert loaded_after(["--help"], [], ["--version"]) == set()


def test_every_command_help_but_search_imports_nothing_heavy() -> None:
    light = [[name, "--help"] for name in COMMANDS if name not in SEARCH_COMMANDS]
    assert loaded_after(*light) == set()


def test_search_command_help_imports_neither_torch_nor_sympy() -> None:
    loaded = loaded_after(*([name, "--help"] for name in sorted(SEARCH_COMMANDS)))
    assert "scipy" in loaded  # the check sees an import when there is one
    assert not loaded & {"torch", "sympy"}


def test_the_check_sees_torch_when_a_command_needs_it() -> None:
    assert "torch" in loaded_after(["compile", "relu(x)"])


# What the text commands need not import: Lark (valid text is parsed from the tables written ahead
# of time; only an error imports Lark, for its report), importlib.resources (only an installed wheel
# reads the grammar through it), difflib (only a misspelt name needs it), other commands' modules.
LIGHT = ("lark", "importlib.resources", "difflib", "actlang.cli.enumerate_cmd", "csv")


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"], ["list"], ["list", "--json", "relu"], ["parse", "relu(x)"],
        ["parse", "--json", "gelu_new(x) + x * sigmoid(beta * x) where beta = 1.5"],
    ],
)
def test_text_commands_import_no_lark_nor_other_commands(argv: list[str]) -> None:
    assert loaded_after(argv, watch=LIGHT) == set()


def test_check_and_help_import_only_what_they_use() -> None:
    assert loaded_after(["check", "x * sigmoid(beta * x)", "gelu_new"], watch=LIGHT) == set()
    # --help imports every command's module for its one-line help (the check sees imports when there are some)
    assert loaded_after(["--help"], watch=LIGHT) == {"actlang.cli.enumerate_cmd", "csv"}


def test_a_parse_error_imports_lark_but_does_not_analyse_the_grammar() -> None:
    assert loaded_after(["parse", "relu(x"], watch=LIGHT) == {"lark"}
    # Lark's parser comes from the tables written ahead of time: analysing the grammar would fail here.
    refuse = "import lark.parsers.lalr_analysis as a\na.LALR_Analyzer.compute_lalr = None"
    assert loaded_after(["parse", "relu(x"], ["check", "relu(x", "x +"], code=refuse) == set()


def test_help_lists_every_command_with_its_modules_help_line(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    for name in COMMANDS:
        module = importlib.import_module(f"actlang.cli.{name}_cmd")
        assert f"{name} {' '.join(module.HELP.split())}" in out


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_parser_is_complete_and_runnable(name: str) -> None:
    parser = build_parser(name)
    choices = parser._subparsers._group_actions[0].choices  # the COMMAND argument's table
    assert list(choices) == [name]
    assert choices[name].description or choices[name].format_help()
    assert choices[name].add_help  # a real parser, not the overview's placeholder


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--json", "parse", "relu(x)"], "unrecognized arguments: --json"),
        (["pars", "relu(x)"], "invalid choice: 'pars'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_without_a_leading_command(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_before_a_command_prints_the_overview(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["-h", "parse"])  # -h comes first: the overview, as argparse does
    assert exit_info.value.code == 0
    assert "COMMAND" in capsys.readouterr().out


def test_compile_formats_match_the_compiler() -> None:
    from actlang.cli.compile_cmd import FORMATS
    from actlang.compiler.export import FORMATS as COMPILER_FORMATS

    assert FORMATS == COMPILER_FORMATS
