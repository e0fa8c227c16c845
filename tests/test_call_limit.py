"""Every public call ends within 5 s (issue 12), on inputs that would take far longer unhindered.

Past the parser's limits (10,000 characters, nesting depth 200) an input is a ``LimitError`` before
any work: a 900 kB nest of 100,000 calls or a 4 MB sum would cost lark, sympy and the code
generator minutes (and recursion), so what is checked is that the limit stops them, in every
entry point, and quickly. Inside the limits, the heaviest inputs of each kind (nesting at the
limit, 800-argument calls, the hyperparameters whose symbolic work once ran for 30 s) end within
the same bound, as a result or an ``ActlangError``. Time is the process's CPU time, which the
load of a shared machine does not stretch; wall time is checked loosely.
"""

from __future__ import annotations

import contextlib
import io
import time

import pytest

import actlang
from actlang.cli import main
from actlang.errors import LimitError
from tests import hostile

LIMIT_S = 5.0  # benchmarks/hostile_inputs.py's bound on one call

PAST_LIMITS = {
    "100,000 nested calls": "sigmoid(" * 100_000 + "x" + ")" * 100_000,
    "a 4 MB sum": "x + " * 1_000_000 + "x",
    "9,000 nested negations": "-" * 9_000 + "x",
    "3,000 chained powers": "x^" * 3_000 + "2",
    "1,000 nested calls": "sin(" * 1_000 + "x" + ")" * 1_000,
    "1,800 arguments": "max_n(" + ",".join(f"x*{i}" for i in range(1_800)) + ")",
    "nesting one past the limit": "tanh(" * 200 + "x" + ")" * 200,
}

ENTRY_POINTS = {
    "compile and train": lambda text: hostile.run_compile(hostile.Case(text, None, True, False)),
    "compile per channel": lambda text: hostile.run_compile(hostile.Case(text, 3, False, True)),
    "evaluate": lambda text: actlang.evaluate(text, [-1.0, 0.0, 2.0]),
    "derivative": lambda text: actlang.derivative(text),
    "simplify": lambda text: actlang.simplify(text),
    "equivalent": lambda text: actlang.equivalent(text, "x"),
    "parse": lambda text: actlang.parse(text),
}


def _timed(work) -> tuple[BaseException | None, float, float]:
    """(the exception ``work()`` raised or None, CPU seconds, wall seconds)."""
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        work()
        error = None
    except Exception as raised:  # what escaped is the thing checked
        error = raised
    return error, time.process_time() - cpu, time.perf_counter() - wall


@pytest.fixture(autouse=True, scope="module")
def warm_up() -> None:
    """Lazy imports (sympy, torch's compiled kernels) are a process's one-off cost, not a call's."""
    hostile.run_compile(hostile.Case("x * sigmoid(a * x)", None, True, False))
    actlang.equivalent("tanh(x)", "2*sigmoid(2*x) - 1")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("name", PAST_LIMITS)
def test_inputs_past_the_limits_end_in_a_limit_error_within_the_bound(name, entry):
    error, cpu, wall = _timed(lambda: ENTRY_POINTS[entry](PAST_LIMITS[name]))
    assert isinstance(error, LimitError), repr(error)
    assert "limit" in str(error)
    assert cpu < LIMIT_S and wall < 6 * LIMIT_S, (cpu, wall)


@pytest.mark.parametrize("command", ["compile", "check"])
@pytest.mark.parametrize("name", PAST_LIMITS)
def test_the_cli_exits_2_with_the_limit_within_the_bound(name, command):
    # "--": an expression starting with "-" is not an option
    err = io.StringIO()
    codes = []
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        error, cpu, wall = _timed(lambda: codes.append(main([command, "--", PAST_LIMITS[name]])))
    assert error is None and codes == [2]
    assert "limit" in err.getvalue() and "Traceback" not in err.getvalue()
    assert cpu < LIMIT_S and wall < 6 * LIMIT_S, (cpu, wall)


HEAVY_WITHIN_LIMITS = {
    "nesting at the limit, learned": "softplus(" * 190 + "a * x^p" + ")" * 190,
    "800 arguments": "sum_n(" + ",".join(f"sin(x*{i})" for i in range(800)) + ")",
    "800 learned arguments": "max_n(" + ",".join(f"b_{i}*x" for i in range(800)) + ")",
    "tiny celu scale": "celu[alpha=1e-320](x)",
    "steep softplus, learned": "softplus[beta=1000](a * x) - celu[alpha=1e-300](x) * b",
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("name", HEAVY_WITHIN_LIMITS)
def test_heavy_inputs_within_the_limits_end_within_the_bound(name, entry):
    text = HEAVY_WITHIN_LIMITS[name]
    assert len(text) <= 10_000
    error, cpu, wall = _timed(lambda: ENTRY_POINTS[entry](text))
    assert error is None or isinstance(error, actlang.ActlangError), repr(error)
    assert cpu < LIMIT_S and wall < 6 * LIMIT_S, (cpu, wall)
