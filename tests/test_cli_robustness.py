"""The command line when writing fails (a full disk, ``/dev/full``, a closed pipe) and with
expressions that start with '-': one readable line and exit 2, never a traceback or an abort."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actlang.cli import _expression_like, _options, build_parser, main

ROOT = Path(__file__).resolve().parent.parent
FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full on this system")


def actlang(*argv: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "actlang", *argv], stdout=stdout, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT, env=env, timeout=120)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err and "Exception ignored" not in err


# -- failed writes -------------------------------------------------------------------------------------
@needs_dev_full
@pytest.mark.parametrize("argv", [["parse", "relu(x)"], ["list"], ["enumerate", "unary(x)"],
                                  ["simplify", "x*sigmoid(x)"], ["compile", "relu(x)"]])
def test_a_failed_standard_output_is_one_line_and_exit_2(argv):
    with FULL.open("w") as full:
        done = actlang(*argv, stdout=full)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "actlang: cannot write to standard output: No space left on device"


@needs_dev_full
@pytest.mark.parametrize("argv", [
    ["compile", "relu(x)", "-o", str(FULL)],  # was: std::__ios_failure, abort (rc 134)
    ["export", "relu(x)", "-o", str(FULL), "--format", "exported"],  # was: c10::Error, abort
    ["export", "relu(x)", "-o", str(FULL), "--format", "onnx"],
    ["enumerate", "unary(x)", "-o", str(FULL)],  # was: an OSError traceback
])
def test_a_failed_file_write_is_one_line_and_exit_2(argv):
    done = actlang(*argv)
    assert done.returncode == 2, done.stderr
    assert one_line(done.stderr) and "terminate called" not in done.stderr
    assert done.stderr.strip().endswith(f"cannot write '{FULL}': No space left on device"), done.stderr


def test_compile_copies_a_staged_file_and_a_failed_copy_leaves_nothing(tmp_path, monkeypatch):
    import shutil

    from actlang.cli import compile_cmd
    from actlang.compiler import compile as compile_
    from actlang.errors import ActlangError

    module = compile_("relu(x)")
    good = tmp_path / "good.pt"
    compile_cmd.write(module, str(good), "torchscript")
    assert good.stat().st_size > 0

    def full(source, target, *args, **kwargs):
        Path(target).write_bytes(b"half")  # a copy cut short by a full disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(shutil, "copyfile", full)
    bad = tmp_path / "bad.pt2"
    with pytest.raises(ActlangError, match=r"cannot write '.*bad.pt2': No space left on device"):
        compile_cmd.write(module, str(bad), "exported")
    assert not bad.exists()  # no truncated file left behind


def test_other_os_errors_are_one_line_and_exit_2(capsys, monkeypatch):
    from actlang.cli import parse_cmd

    def denied(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/etc/somewhere")

    monkeypatch.setattr(parse_cmd, "run", denied)
    code, _, err = run(capsys, "parse", "relu(x)")
    assert code == 2 and err.strip() == "actlang: PermissionError: '/etc/somewhere': Permission denied"


def test_a_closed_pipe_is_quiet_and_exit_0():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    reader = subprocess.Popen([sys.executable, "-m", "actlang", "enumerate", "binary(unary(x),unary(x))"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout.readline() == b"name\n"
    reader.stdout.close()  # `| head -1`
    err = reader.stderr.read().decode()
    assert reader.wait(timeout=120) == 0 and err == ""


# -- expressions starting with '-' -----------------------------------------------------------------
@pytest.mark.parametrize(("argv", "out"), [
    (["parse", "-x"], "-x"),
    (["parse", "-2*x"], "-2 * x"),
    (["parse", "-relu(x)", "--style", "aquasurf"], "negative(relu(x))"),
    (["parse", "--style", "aquasurf", "-relu(x)"], "negative(relu(x))"),
    (["parse", "--", "-x"], "-x"),
    (["diff", "-x*x", "--wrt", "x"], "-(2 * x)"),
])
def test_an_expression_may_start_with_a_dash(capsys, argv, out):
    code, printed, err = run(capsys, *argv)
    assert code == 0 and printed.strip() == out, err


def test_equiv_reads_dashed_expressions_as_expressions():
    different = actlang("equiv", "-x*sigmoid(x)", "silu(x)")
    assert different.returncode == 1 and different.stdout.startswith("different"), different.stderr  # not a usage error
    same = actlang("equiv", "-x*sigmoid(-x)", "x*sigmoid(x) - x")
    assert same.returncode == 0, same.stderr


def test_options_still_work_beside_dashed_expressions(capsys, tmp_path):
    assert run(capsys, "check", "-q", "-x", "relu(x)")[:2] == (0, "")
    code, out, _ = run(capsys, "parse", "-x", "--json")
    assert code == 0 and '"canonical": "-x"' in out
    for mistyped in ("--jsn", "-j"):  # a mistyped option is still a usage error
        with pytest.raises(SystemExit) as usage:
            main(["parse", "relu(x)", mistyped])
        assert usage.value.code == 2
    code, out, err = run(capsys, "enumerate", "-unary(x)", "--count")
    assert code == 0 and out.strip() == "strings: 27", err


def test_a_dash_led_name_gets_a_hint_about_double_dash():
    done = actlang("parse", "-beta")  # -beta reads as an unknown option -b...: say how to pass it
    assert done.returncode == 2
    assert "needs '--' before it: actlang parse -- -beta" in done.stderr and "Traceback" not in done.stderr
    passed = actlang("parse", "--", "-beta")
    assert passed.returncode == 0 and passed.stdout.strip() == "-beta"


@pytest.mark.parametrize("command", ["parse", "check", "simplify", "equiv", "diff", "compile", "export", "plot",
                                     "enumerate"])
def test_help_mentions_double_dash(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "may start with '-'" in out and f"actlang {command}" in out and " -- -x" in out


@pytest.mark.parametrize(("arg", "expression"), [
    ("-x", True), ("-relu(x)", True), ("-2*x", True), ("-x*sigmoid(x)", True), ("-hardtanh(x)", True),
    ("-o", False), ("-ofile.pt", False), ("-n3", False), ("-q", False), ("-h", False), ("--json", False),
    ("-", False), ("-2", False), ("-0.5", False), ("-beta", False), ("x", False),
])
def test_what_reads_as_a_dashed_expression(arg, expression):
    options = _options(build_parser("compile")) | _options(build_parser("search")) | _options(build_parser("check"))
    assert _expression_like(arg, options) is expression
