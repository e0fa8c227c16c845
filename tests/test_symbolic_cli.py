"""actlang simplify / equiv / diff on the command line: output and exit codes."""

from __future__ import annotations

import json

import pytest

from actlang.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err


def test_simplify(capsys) -> None:
    assert run(capsys, "simplify", "x * tanh(log(1 + exp(x)))") == (0, "mish(x)", "")
    code, out, _ = run(capsys, "simplify", "max(x, 0)", "--json")
    assert code == 0 and json.loads(out) == {"input": "max(x, 0)", "simplified": "relu(x)"}


def test_equiv_exit_codes(capsys) -> None:
    assert run(capsys, "equiv", "tanh(x)", "2*sigmoid(2*x) - 1")[:2] == (0, "proved")
    code, out, _ = run(capsys, "equiv", "x/x", "1")
    assert code == 1 and out.startswith("different: at x = 0.0") and "0/0" in out
    code, out, err = run(capsys, "equiv", "sofplus(x)", "x")
    assert code == 2 and "did you mean 'softplus'" in err


def test_equiv_symmetry_and_json(capsys) -> None:
    code, out, _ = run(capsys, "equiv", "--symmetry", "negation", "--json", "--", "-elu(x)", "elu(x)")
    data = json.loads(out)
    assert code == 0 and (data["verdict"], data["transform"]) == ("proved", "-f(x)")
    assert run(capsys, "equiv", "--", "-elu(x)", "elu(x)")[0] == 1


def test_diff(capsys) -> None:
    assert run(capsys, "diff", "softplus(x)") == (0, "sigmoid(x)", "")
    assert run(capsys, "diff", "relu(x)")[1] == "select(x, 1, 0)"
    code, out, _ = run(capsys, "diff", "x*sigmoid(beta*x)", "--wrt", "beta")
    assert code == 0 and out == "x^2 * sigmoid(beta * x) * sigmoid(-(beta * x))"
    code, _, err = run(capsys, "diff", "relu(x)", "--wrt", "gamma")
    assert code == 2 and "choose one of: x" in err


@pytest.mark.parametrize("command", ["simplify", "equiv", "diff"])
def test_help(capsys, command: str) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0 and command in capsys.readouterr().out
