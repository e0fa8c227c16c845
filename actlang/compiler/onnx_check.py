"""An ONNX file is checked where onnxruntime is installed: it must run, and give the module's
outputs on a sweep of inputs, or it is deleted and refused.

The exporter translates torch ops into ONNX ops whose numerics can differ from torch's kernels:
``F.logsigmoid`` becomes ``Log(Sigmoid(x))``, whose float32 sigmoid underflows, so the file gave
−inf from x ≈ −20 down where the module gives x. A file that runs but computes another function is
worse than no file, so one run on the all-zeros example is not enough.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from actlang.errors import UnsupportedError

# Constant inputs swept through both (every x of the example at one value): the tails where
# decompositions overflow or underflow, the kinks, 0.
SWEEP = (-1e4, -1e3, -100.0, -30.0, -20.0, -10.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 10.0, 20.0, 30.0, 100.0,
         1e3, 1e4)
# Agreement wanted: the exporter's float32 constants and ONNX's own kernels differ from torch's by
# rounding (a float64 file holds its literals in float32: 1.5e-8 relative), never by this much.
TOLERANCE = 1e-4


def check_onnx(module: torch.nn.Module, path: Path, example: torch.Tensor) -> None:
    """Refuse the ONNX file at ``path`` (delete it, raise :class:`UnsupportedError`) where
    onnxruntime cannot run it, or where it differs from ``module`` (in eval mode, as exported)
    on the :data:`SWEEP`; nothing to check without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return
    expression = getattr(module, "expression", "the module")
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        session.run(None, {"x": example.numpy()})
    except Exception as error:  # onnxruntime's errors have no common type
        path.unlink(missing_ok=True)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UnsupportedError(
            f"onnxruntime cannot run the ONNX file of {expression}: {first}",
            hint="formats that can: torchscript, exported",
        ) from error
    difference = _first_difference(module, session, example)
    if difference is not None:
        path.unlink(missing_ok=True)
        value, got, want = difference
        raise UnsupportedError(
            f"the ONNX file of {expression} computes {got:g} at x = {value:g}, where the module gives {want:g} "
            "(an ONNX op's numerics differ from torch's there); the file was not kept",
            hint="formats that hold it exactly: torchscript, exported",
        )


def _first_difference(module: torch.nn.Module, session, example: torch.Tensor) -> tuple[float, float, float] | None:
    """``(x, file's value, module's value)`` at the first sweep value where they differ, or None."""
    training = module.training
    module.eval()
    try:
        for value in SWEEP:
            x = torch.full_like(example, value)
            with torch.no_grad():
                want = module(x).numpy()
            got = session.run(None, {"x": x.numpy()})[0]
            close = np.isclose(got, want, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True) | (got == want)
            if not close.all():
                index = np.flatnonzero(~close.reshape(-1))[0]
                return value, float(got.reshape(-1)[index]), float(want.reshape(-1)[index])
    finally:
        module.train(training)
    return None
