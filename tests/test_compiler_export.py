"""Exported files load without actlang and reproduce the outputs; module primitives; the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

import actlang
from actlang.cli import main
from actlang.compiler.export import unsupported
from actlang.registry import Hyper, Learned, Primitive, define, unregister
from tests.calls import submodule_calls

# tanhshrink: its template calls a helper kernel, which the exported files must carry.
TEXT = "x * sigmoid(beta * x) + erfc(softplus(x))^2 + prelu(x) + tanhshrink(x) where beta = 1.5"
LOADER = textwrap.dedent(
    """
    import sys
    sys.modules["actlang"] = None  # a process where actlang cannot be imported
    import json, torch
    files, x_path, out_path = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    x = torch.load(x_path)
    out = {}
    for fmt, path in files.items():
        if fmt == "torchscript":
            out[fmt] = torch.jit.load(path)(x)
        elif fmt == "exported":
            out[fmt] = torch.export.load(path).module()(x)
        else:
            import onnxruntime
            session = onnxruntime.InferenceSession(path)
            out[fmt] = torch.from_numpy(session.run(None, {"x": x.numpy()})[0])
    torch.save(out, out_path)
    """
)


def load_elsewhere(files: dict[str, str], x: torch.Tensor, tmp_path) -> dict[str, torch.Tensor]:
    torch.save(x, tmp_path / "x.pt")
    done = subprocess.run(
        [sys.executable, "-c", LOADER, json.dumps(files), str(tmp_path / "x.pt"), str(tmp_path / "out.pt")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return torch.load(tmp_path / "out.pt")


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def test_every_format_loads_without_actlang_and_reproduces_outputs(tmp_path):
    module = actlang.compile(TEXT, channels=3)
    with torch.no_grad():
        module.beta.copy_(torch.tensor([0.5, 1.0, 2.0]))
        module.prelu_0.a.copy_(torch.tensor([0.1, 0.2, 0.3]))
    formats = ["torchscript", "exported"] + (["onnx"] if onnx_available() else [])
    files = {f: str(actlang.export(module, tmp_path / f"act.{f}", format=f, shape=(2, 3, 5))) for f in formats}
    x = torch.randn(5, 3, 7, generator=torch.Generator().manual_seed(0)) * 4  # other sizes: dynamic shapes
    want = module(x).detach()
    got = load_elsewhere(files, x, tmp_path)
    assert set(got) == set(formats)
    for fmt, y in got.items():
        # Within 1e-6 (absolute, and relative for |y| > 1: onnxruntime's kernels differ by an ulp).
        assert y.shape == want.shape and torch.allclose(y, want, rtol=1e-6, atol=1e-6), fmt


@pytest.mark.skipif(not onnx_available(), reason="onnx export needs onnxscript and onnxruntime (dev extra)")
def test_onnx_is_listed_as_available():
    assert unsupported(actlang.compile("gelu(x)"), "onnx") == []
    assert unsupported(actlang.compile("bessel_i0e(x)"), "onnx") == [("bessel_i0e", "torch.special.i0e")]


@pytest.mark.parametrize(("text", "op"), [("bessel_i0e(x) + x", "bessel_i0e"), ("x * bessel_i1e(x)", "bessel_i1e")])
def test_formats_that_cannot_express_an_op_say_which_can(text, op, tmp_path):
    with pytest.raises(actlang.UnsupportedError) as caught:
        actlang.export(actlang.compile(text), tmp_path / "f.onnx", format="onnx")
    message = str(caught.value)
    assert op in message and "torchscript, exported" in message
    assert not (tmp_path / "f.onnx").exists()


def test_unknown_format_and_foreign_modules_are_rejected(tmp_path):
    with pytest.raises(actlang.UnsupportedError, match="torchscript, exported, onnx"):
        actlang.export(actlang.compile("x"), tmp_path / "f", format="tflite")
    with pytest.raises(actlang.ActlangError, match=r"actlang\.compile"):
        actlang.export(nn.ReLU(), tmp_path / "f")


def test_cli_compile_prints_code_and_export_writes_a_file(tmp_path, capsys):
    assert main(["compile", "max(x, 0) + x*sigmoid(x)"]) == 0
    out = capsys.readouterr().out
    assert "torch.relu(x)" in out and "F.silu(x)" in out
    path = tmp_path / "act.pt"
    assert main(["export", "erfc(softplus(x))^2", "-o", str(path), "--format", "torchscript", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["output"] == str(path) and summary["expression"] == "erfc(softplus(x))^2"
    assert main(["compile", "sofplus(x)"]) == 2
    assert "did you mean 'softplus'" in capsys.readouterr().err
    x = torch.linspace(-5, 5, 11)
    got = load_elsewhere({"torchscript": str(path)}, x, tmp_path)["torchscript"]
    assert torch.allclose(got, torch.special.erfc(torch.nn.functional.softplus(x)) ** 2, atol=1e-7)


# ---- module primitives: a test-only stateful primitive with its own nn.Module ----------------


class Scale(nn.Module):
    """``scale·x`` with a learned ``scale`` (one per channel with channels)."""

    def __init__(self, hp, channels, channel_dim) -> None:
        super().__init__()
        self.channel_dim = channel_dim
        self.scale = nn.Parameter(torch.full((channels,) if channels else (), float(hp["init"])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale
        if scale.dim() > 0:
            scale = scale.reshape([-1] + [1] * (x.dim() - self.channel_dim - 1))
        return scale * x


@pytest.fixture
def test_scale():
    define(
        Primitive(
            name="test_scale", doc="scale·x (tests only)", source="tests", torch=None,
            numpy=lambda x, init, scale: scale * x, hyper=(Hyper("init", "float", 2.0),),
            learned=(Learned("scale", lambda hp: hp["init"]),), module=f"{__name__}:Scale",
        )
    )
    try:
        yield
    finally:
        unregister("test_scale")


def test_module_primitives_are_submodules_called_from_the_generated_code(test_scale):
    module = actlang.compile("sigmoid(test_scale[init=3](x)) + test_scale(x)", channels=2)
    assert submodule_calls(module, torch.randn(4, 2)) == ["test_scale_0", "test_scale_1"]  # in evaluation order
    assert dict(module.named_parameters()).keys() == {"test_scale_0.scale", "test_scale_1.scale"}
    assert module.test_scale_0.scale.shape == (2,) and float(module.test_scale_0.scale[0].detach()) == 3.0
    with torch.no_grad():
        module.test_scale_1.scale.copy_(torch.tensor([0.5, -1.0]))
    x = torch.randn(4, 2)
    y = module(x)
    for c, scale in enumerate([0.5, -1.0]):
        params = {"test_scale_0.scale": 3.0, "test_scale_1.scale": scale}
        want = actlang.evaluate("sigmoid(test_scale[init=3](x)) + test_scale(x)", x[:, c].numpy(), params)
        assert np.allclose(y[:, c].detach().numpy(), want, atol=1e-6)
    y.sum().backward()  # plain autograd reaches the submodules' parameters
    assert module.test_scale_1.scale.grad is not None and type(y.grad_fn).__name__ != "FusedBackward"
    assert torch.allclose(torch.jit.script(module)(x), y)


def test_exporter_failures_name_the_op_without_terminal_colours():
    from actlang.compiler.export import _failure

    found = "No ONNX function found for <OpOverload(op='aten.rrelu_x', overload='default')>"
    error = RuntimeError(f"Failed \x1b[96mstep\x1b[0m\n{found}")
    message = str(_failure(actlang.compile("adact"), "onnx", error))
    assert message.startswith("onnx cannot express aten.rrelu_x in adact(x)") and "torchscript, exported" in message
    plain = str(_failure(actlang.compile("x"), "exported", RuntimeError("\x1b[1mboom\x1b[0m\nmore")))
    assert plain == "cannot export x as exported: boom"
