"""An ONNX file that computes another function is refused; plots of overflowing ranges and PDF
dates; ``evaluate``'s softplus as torch's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import actlang

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def test_an_onnx_file_with_other_numerics_is_refused_and_not_kept(tmp_path) -> None:
    """``F.logsigmoid`` exports as Log(Sigmoid(x)): −inf from x ≈ −20 down, where the module gives x."""
    target = tmp_path / "ls.onnx"
    with pytest.raises(actlang.UnsupportedError, match=r"computes -inf at x = -10000, where the module gives -10000"):
        actlang.export(actlang.compile("log_sigmoid(x)"), target, format="onnx")
    assert not target.exists()


@pytest.mark.parametrize(("text", "shape"), [("softplus(x) * x", (2, 4)), ("mish(x)", (3,)),
                                             ("x * sigmoid(beta * x)", (2, 3, 4)), ("gelu(x) + 0.1", (5,))])
def test_files_that_agree_are_kept_and_agree_on_the_sweep(tmp_path, text, shape) -> None:
    from actlang.compiler.onnx_check import SWEEP

    module = actlang.compile(text)
    path = actlang.export(module, tmp_path / "f.onnx", format="onnx", shape=shape)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.tensor(SWEEP, dtype=torch.float32).repeat(int(np.prod(shape)) // len(SWEEP) + 1)[: int(np.prod(shape))]
    x = x.reshape(shape)
    with torch.no_grad():
        want = module.eval()(x).numpy()
    np.testing.assert_allclose(session.run(None, {"x": x.numpy()})[0], want, rtol=1e-4, atol=1e-4)


def test_a_plot_range_wider_than_float64_is_a_clear_error(tmp_path) -> None:
    command = ["plot", "relu(x)", "--range", "-1e308", "1e308", "-o", str(tmp_path / "r.png")]
    found = subprocess.run([sys.executable, "-m", "actlang", *command], capture_output=True, text=True, timeout=120)
    assert found.returncode == 2 and "Traceback" not in found.stderr
    assert "wider than float64" in found.stderr
    with pytest.raises(actlang.ActlangError, match="wider than float64"):
        from actlang.plot import plot_data

        plot_data("relu(x)", lo=-1e308, hi=1e308)


def test_pdf_plots_carry_no_date(tmp_path) -> None:
    from actlang.plot import plot

    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    plot("gelu(x)", output=first)
    plot("gelu(x)", output=second)
    assert b"CreationDate" not in first.read_bytes()
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0, 40.0])
def test_evaluate_softplus_is_torchs_at_its_threshold(beta) -> None:
    """torch returns x where βx > 20: evaluate's log(1 + e^{βx})/β was 20.10000000186501 at 20.1
    and inf at 1e308 with β = 2."""
    xs = np.array([-1e308, -30.0, -1.0, 0.0, 1.0, 19.9 / beta, 20.0 / beta, 20.1 / beta, 1e3, 1e308, np.nan])
    found = actlang.evaluate(f"softplus[beta={beta}](x)", xs)
    want = torch.nn.functional.softplus(torch.tensor(xs), beta=beta).numpy()
    np.testing.assert_array_equal(found, want)


@pytest.mark.parametrize("text", ["x^-0.5", "x^(-1/2)", "(2*x)^-0.5", "x^p where p = -0.5", "x^0.5", "x^-1.5"])
def test_evaluate_pow_is_torchs_at_signed_zero_and_infinity(text) -> None:
    """A constant exponent of −0.5 is torch's rsqrt (−inf at −0, NaN at −inf; pow gives +inf
    and 0); a learned one is pow, in torch as here."""
    xs = np.array([-0.0, -np.inf, np.inf, 0.0, 4.0, -4.0, np.nan])
    module = actlang.compile(text, fuse=False).double()
    np.testing.assert_array_equal(actlang.evaluate(text, xs), module(torch.tensor(xs)).detach().numpy())
