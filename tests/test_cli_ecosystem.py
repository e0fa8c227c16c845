"""The command line and the REPL surface: fast start (no torch on the text paths), --version,
dialects and constant checks in parse/check, the alias listing, ``repr`` and ``dir``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given

import actlang
from actlang.cli import main
from tests.strategies import exprs


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _loaded_after(argv: list[str]) -> set[str]:
    """The heavy packages a fresh interpreter has imported after running ``actlang argv``."""
    code = (
        "import sys, contextlib, io\nfrom actlang.cli import main\n"
        # --version and --help end in SystemExit; the modules are listed all the same
        f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): main({argv!r})\n"
        "print(' '.join(m for m in ('torch', 'sympy', 'numpy', 'scipy', 'lark') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "argv", [["parse", "relu(x) + gelu_new"], ["check", "x * sigmoid(x)"], ["list", "relu"], ["list", "--aliases"]]
)
def test_text_commands_import_neither_torch_nor_sympy_nor_numpy(argv: list[str]) -> None:
    assert _loaded_after(argv) <= {"lark"}


@pytest.mark.parametrize("argv", [["simplify", "x * sigmoid(x)"], ["equiv", "silu(x)", "x * sigmoid(x)"]])
def test_symbolic_commands_do_not_import_torch(argv: list[str]) -> None:
    assert "torch" not in _loaded_after(argv)


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"actlang {actlang.__version__}\n"
    assert _loaded_after(["--version"]) <= {"lark"}


def test_help_still_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("parse", "check", "list", "compile", "enumerate", "plot"):
        assert command in out


def test_check_refuses_constants_with_a_did_you_mean(capsys) -> None:
    code, out, err = run(capsys, "check", "GELU", "relu(z)", "gelu_new")
    assert code == 2 and out == "ok  gelu[approximate=tanh](x)\n"
    assert "arg 1: ConstantExpressionError: GELU never uses the input x" in err and "'gelu'" in err
    assert "arg 2: ConstantExpressionError" in err and "'z' is a learned scalar" in err
    assert run(capsys, "check", "--allow-constant", "relu(z)")[0] == 0


def test_check_reports_warnings_and_reads_dialects(capsys) -> None:
    code, out, err = run(capsys, "check", "hard_sigmoid(x)", "x * ReLU")
    assert code == 0 and "arg 1: warning: hard_sigmoid is Keras 2's" in err
    assert "did you mean the primitive 'relu'" in err
    code, out, err = run(capsys, "check", "--dialect", "keras", "hard_sigmoid(x) + leaky_relu")
    assert (code, err) == (0, "") and out == "ok  hardsigmoid(x) + leaky_relu[slope=0.2](x)\n"
    code, out, _ = run(capsys, "check", "--json", "hard_sigmoid")
    assert "Keras 2" in json.loads(out)[0]["warnings"][0]


def test_parse_dialect_and_constant_warning(capsys) -> None:
    assert run(capsys, "parse", "--dialect", "timm", "hard_sigmoid") == (0, "hardsigmoid(x)\n", "")
    code, out, err = run(capsys, "parse", "relu(z)")
    assert (code, out) == (0, "relu(z)\n") and err.startswith("actlang: warning: relu(z) never uses the input x")
    code, _, err = run(capsys, "parse", "softmax(x)")
    assert code == 2 and "not elementwise" in err


def test_list_aliases(capsys) -> None:
    code, out, _ = run(capsys, "list", "--aliases")
    assert code == 0 and all(name in out for name in actlang.registry.COMPOSITES)
    code, out, _ = run(capsys, "list", "--aliases", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["quick_gelu"]["means"] == "x * sigmoid(1.702 * x)"
    code, out, _ = run(capsys, "list", "quick_gelu", "relu")
    assert out.startswith("SIGNATURE") and "quick_gelu  x * sigmoid(1.702 * x)" in out
    assert "actlang list --aliases" in run(capsys, "list")[1]


@given(exprs())
def test_repr_reads_as_actlang_text_and_evaluates_back(expr) -> None:
    text = repr(expr)
    assert text.startswith("actlang.parse(")
    assert eval(text, {"actlang": actlang}) == expr


def test_dir_lists_the_lazy_names() -> None:
    names = dir(actlang)
    for name in ("compile", "export", "simplify", "equivalent", "act_layer", "replace_activations", "search"):
        assert name in names
