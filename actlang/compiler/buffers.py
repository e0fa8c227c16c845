"""Buffer reuse: straight-line code that writes into dead temporaries instead of allocating.

Every generated statement ``tK = op(...)`` allocates a tensor the size of x; a fresh large
allocation costs page faults (on the CPU about as much as a pass over the data). In the fused
forward (run without autograd) a temporary that is no longer read can hold a later result:

    t3 = torch.sigmoid(t0)         ->   t3 = torch.sigmoid(t0, out=t0)      # t0 read last here
    t5 = t3 * t4                   ->   t5 = torch.mul(t3, t4, out=t1)      # t1 dead before

The same kernels run on the same operands, so the values are bitwise those of the allocating
code. Only statements computed from x and literals alone (shaped like x, in x's dtype) take part,
only when their form has an ``out=`` variant (Python arithmetic, or a template that is one
``torch.<fn>(args)`` call whose function accepts ``out=``). A buffer is a dead temporary that
Python arithmetic or a one-call ``torch.``/``F.`` template allocated (never x, a learned value, or
the result of a template that might return its operand, such as ``identity``, whose operands stay
live), and never one in ``keep`` (returned or saved for backward). Every other statement is kept
as written and allocates.
"""

from __future__ import annotations

import functools
import re

import torch

from actlang.compiler.codegen import Step
from actlang.registry import Operator, lookup

# A template that is exactly one torch function call on its arguments.
_ONE_CALL = re.compile(r"(torch(?:\.special)?\.\w+)\(\{0\}(?:, \{\d\})*\)")
_CALLEE = re.compile(r"(?:torch|F)(?:\.\w+)+\(")
_IN_PLACE = re.compile(r"(?:\.\w+_\([^()]*\))*")


def reuse_buffers(lines: list[str], steps: dict[str, Step], keep: set[str]) -> list[str]:
    """``lines`` with results written into dead temporaries (``out=``) where that is safe.

    Liveness: a variable is dead after the last statement reading it, unless it is in ``keep``. A
    statement may write into an operand it reads for the last time (elementwise kernels allow
    exact aliasing of input and output) or into any temporary dead before it.
    """
    last: dict[str, int] = {}
    keep = set(keep)
    for i, line in enumerate(lines):
        step = steps.get(_target(line))
        for code, is_tensor in step.operands if step else ():
            if is_tensor:
                last[code] = i
                if not _fresh(step):  # its result may be the operand itself (identity): keep that
                    keep.add(code)
    free: list[str] = []
    result = []
    for i, line in enumerate(lines):
        target = _target(line)
        step = steps.get(target)
        form = _out_form(step) if step is not None and step.on_x else None
        operands = dict.fromkeys(code for code, is_tensor in step.operands if is_tensor) if step else {}
        dying = [v for v in operands if last[v] == i and v not in keep and _buffer(steps.get(v))]
        if form is not None and (dying or free):
            line = f"{target} = {form.format(out=dying.pop(0) if dying else free.pop())}"
        free.extend(dying)
        if target not in last and target not in keep and _buffer(step):  # never read: dead at once
            free.append(target)
        result.append(line)
    return result


def _target(line: str) -> str:
    return line.split(" = ", 1)[0]


def _buffer(step: Step | None) -> bool:
    """Whether the variable a step assigns is a tensor of its own, shaped like x in x's dtype."""
    return step is not None and step.on_x and _fresh(step)


def _fresh(step: Step) -> bool:
    """Whether a step's result is a new tensor, never an operand or a view of one.

    True for Python arithmetic and for templates that are one ``torch.``/``F.`` call
    (``torch.where``, ``F.softplus``): these return a new tensor, never a view of an operand
    (stochastic primitives, whose eval form may return the input, never reach the fused path).
    """
    if step.stochastic:
        return False
    return _arithmetic(step) is not None or (isinstance(step.template, str) and _one_call(step.template))


def _arithmetic(step: Step) -> Operator | None:
    """The operator whose Python arithmetic ``step`` is (``t0 + t1``: ``torch.add``), or None."""
    primitive = lookup(step.op)
    operator = primitive.operator if primitive is not None else None
    return operator if operator is not None and operator.function is not None else None


def _one_call(template: str) -> bool:
    """Whether ``template`` is a single ``torch.<fn>(...)`` or ``F.<fn>(...)`` call as a whole."""
    if _CALLEE.match(template) is None or not template.endswith(")"):
        return False
    depth = 0
    for i, char in enumerate(template):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char == ")":
            # the first call's parenthesis closes at the very end, or in-place methods follow
            # (``torch.square(a).add_(1.0).rsqrt_()``), which return that same new tensor
            return _IN_PLACE.fullmatch(template[i + 1 :]) is not None
    return False


def _out_form(step: Step) -> str | None:
    """The statement as a ``str.format`` pattern with an ``{out}`` slot, or None if it has none."""
    if step.out is not None:
        return step.out
    codes = [code.replace("{", "{{").replace("}", "}}") for code, _ in step.operands]
    operator = _arithmetic(step)
    if operator is not None:  # the torch function the Python operator calls
        if len(codes) == 1:
            return f"{operator.function}({codes[0]}, out={{out}})"
        # number operands: second place only, where that is the same computation (``2.0 / t`` is
        # ``t.reciprocal() * 2.0`` in torch, so it stays)
        first_is_tensor = step.operands[0][1]
        if not first_is_tensor and operator.commutative:
            codes.reverse()  # 2.0 * t calls t.__rmul__(2.0), which is torch.mul(t, 2.0)
        elif not first_is_tensor:
            return None
        return f"{operator.function}({codes[0]}, {codes[1]}, out={{out}})"
    template = step.template
    match = _ONE_CALL.fullmatch(template) if isinstance(template, str) else None
    if match is None or not _accepts_out(match.group(1), len(codes)):
        return None
    code = step.code.replace("{", "{{").replace("}", "}}")
    return f"{code[:-1]}, out={{out}})"


@functools.cache
def _accepts_out(path: str, arity: int) -> bool:
    """Whether torch function ``path`` (``torch.special.erfc``) takes ``out=`` for tensor operands."""
    function = functools.reduce(getattr, path.split(".")[1:], torch)
    operands = [torch.ones(2) for _ in range(arity)]
    try:
        function(*operands, out=torch.empty(2))
    except (TypeError, RuntimeError):
        return False
    return True
