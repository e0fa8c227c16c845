"""The command line: parse, check, list, demo; exit codes 0/2, errors with carets on stderr."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

import actlang
from actlang.cli import COMMANDS, main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_parse_prints_canonical_text(capsys) -> None:
    assert run(capsys, "parse", "add(relu(x),swish(x))") == (0, "relu(x) + silu(x)\n", "")


def test_parse_aquasurf_style_and_json(capsys) -> None:
    assert run(capsys, "parse", "--style", "aquasurf", "relu(x) + silu(x)")[1] == "add(relu(x),swish(x))\n"
    code, out, _ = run(capsys, "parse", "--json", "beta * x where beta = 2")
    tree = json.loads(out)
    assert code == 0 and tree["canonical"] == "beta * x where beta = 2"
    assert tree["tree"]["args"][0] == {"node": "param", "name": "beta", "init": 2.0}


def test_parse_error_exits_2_with_caret(capsys) -> None:
    code, out, err = run(capsys, "parse", "erfc(sofplus(x))^2")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "actlang: UnknownNameError: unknown primitive 'sofplus' at 1:6; did you mean 'softplus'?",
        "  erfc(sofplus(x))^2",
        "       ^^^^^^^",
    ]


def test_check_all_valid(capsys) -> None:
    code, out, err = run(capsys, "check", "erfc(softplus(x))^2", "add(relu(x),swish(x))")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["ok  erfc(softplus(x))^2", "ok  relu(x) + silu(x)"]


def test_check_reports_each_invalid_one(capsys) -> None:
    code, out, err = run(capsys, "check", "relu(x", "x", "softplus[beta=0](x)")
    assert code == 2
    assert out == "ok  x\n"
    assert "actlang: arg 1: ParseError: unexpected end of input at 1:7" in err
    assert "actlang: arg 3: HyperparameterError: bad value for softplus's 'beta': expected float > 0" in err
    assert "        ^\n" in err  # the caret under the end of 'relu(x'


def test_check_reads_stdin_lines(capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("relu\n\n  \nsofplus(x)\nx^2\n"))
    code, out, err = run(capsys, "check", "-q", "-")
    assert code == 2 and out == ""
    assert err.startswith("actlang: stdin:4: UnknownNameError: unknown primitive 'sofplus'")


def test_check_json(capsys) -> None:
    code, out, _ = run(capsys, "check", "--json", "relu", "relu(")
    results = json.loads(out)
    assert code == 2
    assert results[0] == {"input": "relu", "valid": True, "canonical": "relu(x)"}
    error = results[1]["error"]
    assert (error["type"], error["line"], error["column"]) == ("ParseError", 1, 6)
    assert error["display"].endswith("relu(\n       ^")


def test_list_covers_the_registry(capsys) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["SIGNATURE", "PROPERTIES", "AQUASURF", "MEANING"]
    for primitive in actlang.primitives():
        assert any(line.startswith(primitive.signature()) for line in lines), primitive.name
    assert any(line.startswith("silu(x) = swish ") and " swish " in line for line in lines)


def test_list_json_and_markdown(capsys) -> None:
    code, out, _ = run(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == [p.name for p in actlang.primitives()]
    softplus = next(r for r in rows if r["name"] == "softplus")
    assert softplus["hyperparameters"] == [{"name": "beta", "type": "float > 0", "default": 1.0}]
    prelu = next(r for r in rows if r["name"] == "prelu")
    assert "learned" in prelu["properties"] and prelu["learned"][0]["init"] == 0.25
    code, out, _ = run(capsys, "list", "--markdown", "swish", "hard_sigmoid")
    assert out.splitlines()[2].startswith("| `silu(x)` | `swish` | pointwise | `swish` |")
    assert len(out.splitlines()) == 4


def test_list_unknown_name(capsys) -> None:
    code, _, err = run(capsys, "list", "sofplus")
    assert code == 2 and "did you mean 'softplus'?" in err


def test_demo_runs_every_section(capsys) -> None:
    code, out, _ = run(capsys, "demo")
    assert code == 0
    assert "add(relu(x),swish(x))" in out and "relu(x) + silu(x)" in out
    assert "x * sigmoid(beta * x) where beta = 1.5" in out
    assert "^^^^^^^" in out  # the error example
    assert f"{len(actlang.primitives())} primitives" in out


def test_demo_sections(capsys) -> None:
    code, out, _ = run(capsys, "demo", "--list")
    assert code == 0 and out.startswith("language ")
    code, _, err = run(capsys, "demo", "--section", "nope")
    assert code == 2 and "unknown demo section 'nope'" in err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(capsys, command: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: actlang {command}") and len(out.splitlines()) > 3


def test_module_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "actlang", "check", "relu(x)", "relu("], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stdout == "ok  relu(x)\n"
    assert "ParseError" in done.stderr and "Traceback" not in done.stderr
