"""Exact error text for malformed inputs: subclass, position, and the rendered caret display."""

from __future__ import annotations

import pickle

import pytest

import actlang
from actlang import ArityError, HyperparameterError, LimitError, ParseError, UnknownNameError
from actlang.errors import ActlangError, Span, render


def case(text: str, kind: type, line: int, column: int, *lines: str):
    """One malformed input and its exact error: message, source line and caret line."""
    return pytest.param(text, kind, line, column, "\n".join(lines), id=repr(text)[1:-1][:40])


CASES = [
    case(
        'erfc(sofplus(x))^2', UnknownNameError, 1, 6,
        "unknown primitive 'sofplus' at 1:6; did you mean 'softplus'?",
        '  erfc(sofplus(x))^2',
        '       ^^^^^^^',
    ),
    case(
        'relu(x', ParseError, 1, 7,
        "unexpected end of input at 1:7; expected an operator, '(', ')', ',', '=' or '['",
        '  relu(x',
        '        ^',
    ),
    case(
        'relu(x))', ParseError, 1, 8,
        "unexpected ')' at 1:8; expected 'where' or end of input",
        '  relu(x))',
        '         ^',
    ),
    case(
        '', ParseError, 1, 1,
        "empty input; expected an activation such as 'relu(x)' at 1:1",
        '  ',
        '  ^',
    ),
    case(
        'x +', ParseError, 1, 4,
        'unexpected end of input at 1:4; expected an expression',
        '  x +',
        '     ^',
    ),
    case(
        '1e999', LimitError, 1, 1,
        'number 1e999 is out of range at 1:1',
        '  1e999',
        '  ^^^^^',
    ),
    case(
        'x $ 2', ParseError, 1, 3,
        "unexpected character '$' at 1:3",
        '  x $ 2',
        '    ^',
    ),
    case(
        'relu(x, y)', ArityError, 1, 1,
        'relu takes 1 argument, got 2 at 1:1; usage: relu(x)',
        '  relu(x, y)',
        '  ^^^^',
    ),
    case(
        'add(x)', ArityError, 1, 1,
        'add takes 2 arguments, got 1 at 1:1; usage: add(a, b)',
        '  add(x)',
        '  ^^^',
    ),
    case(
        'softplus[beta=-1](x)', HyperparameterError, 1, 10,
        "bad value for softplus's 'beta': expected float > 0, got -1 at 1:10",
        '  softplus[beta=-1](x)',
        '           ^^^^',
    ),
    case(
        'softplus[gamma=1](x)', HyperparameterError, 1, 10,
        "unknown hyperparameter 'gamma' for softplus at 1:10; valid keys: beta",
        '  softplus[gamma=1](x)',
        '           ^^^^^',
    ),
    case(
        'softplus[beta=1, beta=2](x)', HyperparameterError, 1, 18,
        "hyperparameter 'beta' given twice at 1:18",
        '  softplus[beta=1, beta=2](x)',
        '                   ^^^^',
    ),
    case(
        'hardtanh[min=2,max=1](x)', HyperparameterError, 1, 1,
        'bad hyperparameters for hardtanh: min must be below max at 1:1',
        '  hardtanh[min=2,max=1](x)',
        '  ^^^^^^^^',
    ),
    case(
        'softplus(beta=2, x)', ParseError, 1, 18,
        'positional argument after a keyword argument at 1:18',
        '  softplus(beta=2, x)',
        '                   ^',
    ),
    case(
        'x(1)', UnknownNameError, 1, 1,
        "'x' is the input, not a primitive; it cannot be called at 1:1",
        '  x(1)',
        '  ^',
    ),
    case(
        'pi(x)', UnknownNameError, 1, 1,
        "'pi' is a constant, not a primitive; it cannot be called at 1:1",
        '  pi(x)',
        '  ^^',
    ),
    case(
        'true', ParseError, 1, 1,
        "'true' is a keyword and cannot be used as a name here at 1:1",
        '  true',
        '  ^^^^',
    ),
    case(
        'x where', ParseError, 1, 8,
        'unexpected end of input at 1:8; expected a name',
        '  x where',
        '         ^',
    ),
    case(
        'relu()', ArityError, 1, 1,
        'relu takes 1 argument, got 0 at 1:1; usage: relu(x)',
        '  relu()',
        '  ^^^^',
    ),
    case(
        'sum_n()', ArityError, 1, 1,
        'sum_n takes at least 1 argument, got 0 at 1:1; usage: sum_n(a, ...)',
        '  sum_n()',
        '  ^^^^^',
    ),
    case(
        '2 3', ParseError, 1, 3,
        "unexpected number 3 at 1:3; expected an operator, 'where' or end of input",
        '  2 3',
        '    ^',
    ),
    case(
        'x y', ParseError, 1, 3,
        "unexpected name 'y' at 1:3; expected an operator, '(', '[', 'where' or end of input",
        '  x y',
        '    ^',
    ),
    case(
        'relu(x) where relu = 2', UnknownNameError, 1, 15,
        "where clause sets 'relu', which is not a learned parameter of the expression at 1:15; "
        'learned parameters: none',
        '  relu(x) where relu = 2',
        '                ^^^^',
    ),
    case(
        'gelu[approximate=foo](x)', HyperparameterError, 1, 6,
        "bad value for gelu's 'approximate': expected one of none, tanh, got 'foo' at 1:6",
        '  gelu[approximate=foo](x)',
        '       ^^^^^^^^^^^',
    ),
    case(
        'softplus[beta=true](x)', HyperparameterError, 1, 10,
        "bad value for softplus's 'beta': expected a number (float > 0), got true at 1:10",
        '  softplus[beta=true](x)',
        '           ^^^^',
    ),
    case(
        'x\n+\n$', ParseError, 3, 1,
        "unexpected character '$' at 3:1",
        '  $',
        '  ^',
    ),
    case(
        'x where beta=1', UnknownNameError, 1, 9,
        "where clause sets 'beta', which is not a learned parameter of the expression at 1:9; "
        'learned parameters: none',
        '  x where beta=1',
        '          ^^^^',
    ),
    case(
        'beta*x where beta=-2, beta=3', ParseError, 1, 23,
        "'beta' is set twice in the where clause at 1:23",
        '  beta*x where beta=-2, beta=3',
        '                        ^^^^',
    ),
    case(
        'x^^2', ParseError, 1, 3,
        "unexpected '^' at 1:3; expected an expression",
        '  x^^2',
        '    ^',
    ),
    case(
        'relu[slope=1](x)', HyperparameterError, 1, 6,
        "unknown hyperparameter 'slope' for relu at 1:6; relu takes no hyperparameters",
        '  relu[slope=1](x)',
        '       ^^^^^',
    ),
    case(
        'max(x)', ArityError, 1, 1,
        'max takes 2 arguments, got 1 at 1:1; usage: max(a, b)',
        '  max(x)',
        '  ^^^',
    ),
    case(
        '[x]', ParseError, 1, 1,
        "unexpected '[' at 1:1; expected an expression",
        '  [x]',
        '  ^',
    ),
    case(
        'relu[beta]', ParseError, 1, 10,
        "unexpected ']' at 1:10; expected '='",
        '  relu[beta]',
        '           ^',
    ),
    case(
        'x where a=1,', ParseError, 1, 13,
        'unexpected end of input at 1:13; expected a name',
        '  x where a=1,',
        '              ^',
    ),
    case(
        'leaky_relu[slope=1e999](x)', LimitError, 1, 18,
        'number 1e999 is out of range at 1:18',
        '  leaky_relu[slope=1e999](x)',
        '                   ^^^^^',
    ),
    case(
        'hardtanh(x, max=0.5, min=0.5)', HyperparameterError, 1, 1,
        'bad hyperparameters for hardtanh: min must be below max at 1:1',
        '  hardtanh(x, max=0.5, min=0.5)',
        '  ^^^^^^^^',
    ),
    case(
        'x^', ParseError, 1, 3,
        'unexpected end of input at 1:3; expected an expression',
        '  x^',
        '    ^',
    ),
    case(
        'relu(,x)', ParseError, 1, 6,
        "unexpected ',' at 1:6; expected an expression or ')'",
        '  relu(,x)',
        '       ^',
    ),
    case(
        'relu[beta=](x)', ParseError, 1, 11,
        "unexpected ']' at 1:11; expected '+', '-', a name, a number, false or true",
        '  relu[beta=](x)',
        '            ^',
    ),
    case(
        'x*sigmoid(beta*x) where beta', ParseError, 1, 29,
        "unexpected end of input at 1:29; expected '='",
        '  x*sigmoid(beta*x) where beta',
        '                              ^',
    ),
    case(
        '-', ParseError, 1, 2,
        'unexpected end of input at 1:2; expected an expression',
        '  -',
        '   ^',
    ),
    case(
        'x²', ParseError, 1, 2,
        "unexpected character '²' at 1:2",
        '  x²',
        '   ^',
    ),
    case(
        'beta(x)', UnknownNameError, 1, 1,
        "unknown primitive 'beta' at 1:1; see `actlang list` for the primitives",
        '  beta(x)',
        '  ^^^^',
    ),
    case(
        'relu6[](x, 2)', ArityError, 1, 1,
        'relu6 takes 1 argument, got 2 at 1:1; usage: relu6(x)',
        '  relu6[](x, 2)',
        '  ^^^^^',
    ),
    case(
        '1.5.2', ParseError, 1, 4,
        "unexpected number .2 at 1:4; expected an operator, 'where' or end of input",
        '  1.5.2',
        '     ^^',
    ),
    case(
        'softplus[beta=2](x, beta=3)', HyperparameterError, 1, 21,
        "hyperparameter 'beta' given twice at 1:21",
        '  softplus[beta=2](x, beta=3)',
        '                      ^^^^',
    ),
    case(
        'cosh(x) where', ParseError, 1, 14,
        'unexpected end of input at 1:14; expected a name',
        '  cosh(x) where',
        '               ^',
    ),
    case(
        'x + y where y = 1e400', LimitError, 1, 17,
        'number 1e400 is out of range at 1:17',
        '  x + y where y = 1e400',
        '                  ^^^^^',
    ),
]


@pytest.mark.parametrize(("text", "kind", "line", "column", "message"), CASES)
def test_exact_error(text: str, kind: type, line: int, column: int, message: str) -> None:
    with pytest.raises(ActlangError) as caught:
        actlang.parse(text)
    error = caught.value
    assert type(error) is kind
    assert isinstance(error, ValueError)
    assert (error.line, error.column) == (line, column)
    assert str(error) == message
    assert error.text == text


def test_at_least_twenty_distinct_malformed_inputs() -> None:
    assert len({c.values[0] for c in CASES}) >= 20
    assert {c.values[1] for c in CASES} >= {ParseError, UnknownNameError, ArityError, HyperparameterError, LimitError}


def test_errors_show_their_public_name() -> None:
    assert UnknownNameError.__module__ == "actlang"
    assert issubclass(LimitError, ActlangError) and issubclass(ActlangError, ValueError)


def test_errors_pickle_with_their_fields() -> None:
    with pytest.raises(ActlangError) as caught:
        actlang.parse("erfc(sofplus(x))^2")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is UnknownNameError
    assert (copy.line, copy.column, copy.hint, str(copy)) == (1, 6, caught.value.hint, str(caught.value))


def test_long_lines_are_windowed_around_the_fault() -> None:
    text = "x + " * 40 + "sofplus(x)" + " + x" * 40
    with pytest.raises(UnknownNameError) as caught:
        actlang.parse(text)
    _, shown, caret = str(caught.value).split("\n")
    assert shown.startswith("  ...") and shown.endswith("...")
    assert len(shown) < 140
    assert shown[caret.index("^") : caret.index("^") + 7] == "sofplus"


def test_render_without_text_or_span() -> None:
    assert render("bad", None, None, "try again") == "bad; try again"
    assert render("bad", None, Span(2, 3)) == "bad at 2:3"


def test_non_string_input() -> None:
    with pytest.raises(ParseError, match="expected the activation as a string, got int"):
        actlang.parse(3)  # type: ignore[arg-type]


def test_long_unknown_names_are_shortened_in_the_message() -> None:
    name = "q" * 500
    with pytest.raises(UnknownNameError) as caught:
        actlang.parse(name + "(x)")
    assert len(caught.value.message) < 120
    assert caught.value.column == 1


def test_call_in_code_validates_like_the_parser() -> None:
    with pytest.raises(HyperparameterError, match="valid keys: beta"):
        actlang.call("softplus", actlang.Input(), gamma=2)
    with pytest.raises(ArityError, match="usage: add"):
        actlang.call("add", actlang.Input())
    with pytest.raises(UnknownNameError, match="did you mean 'softplus'"):
        actlang.call("sofplus", actlang.Input())


def test_wrong_case_suggests_the_lower_case_name() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'relu'"):
        actlang.parse("ReLU(x)")
    assert actlang.parse("ReLU") == actlang.Param("ReLU")  # bare: a learned parameter, as documented


def test_evaluate_rejects_non_numeric_points_with_an_actlang_error() -> None:
    with pytest.raises(actlang.EvaluationError, match="must be real numbers"):
        actlang.evaluate("x", "abc")
    with pytest.raises(actlang.EvaluationError, match="must be real numbers"):
        actlang.evaluate("relu(x)", [1.0, object()])
