"""Mixed precision: every primitive returns x's dtype for float16 and bfloat16 inputs, trains
through them, and works under ``torch.autocast`` (CPU)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import actlang
from actlang.registry import REQUIRED, Primitive

HALF = [torch.float16, torch.bfloat16]


def _text(primitive: Primitive) -> str:
    required = ", ".join(f"{h.name}={ {'a': -3, 'b': 3, 'cells': 4}.get(h.name, 1)}" for h in primitive.hyper
                         if h.default is REQUIRED)
    head = f"{primitive.name}[{required}]" if required else primitive.name
    arity = primitive.arity if primitive.arity is not None else 2
    args = ", ".join(["x", "0.5 * x", "x + 1"][:arity])
    return f"{head}({args})" if arity else head


TEXTS = [_text(p) for p in actlang.primitives() if p.arity != 0]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("channels", [None, 3])
def test_output_and_gradient_keep_the_input_dtype(text: str, channels: int | None) -> None:
    # Plain autograd here (no symbolic derivative to build per primitive); the fused training
    # path, which returns through the same dtype check, is covered by the autocast tests below.
    module = actlang.compile(text, channels=channels, allow_constant=True, dialect="actlang", memory_efficient=False)
    for dtype in HALF:
        for training in (True, False):
            module.train(training)
            x = torch.randn(2, 3, 4, dtype=dtype, requires_grad=True)
            y = module(x)
            assert y.dtype == dtype, f"{text} with channels={channels}, {dtype}, training={training}: {y.dtype}"
            if y.requires_grad:
                y.float().sum().backward()
                assert x.grad is not None and x.grad.dtype == dtype
            for name, parameter in module.named_parameters():
                assert parameter.dtype == torch.float32, name  # master weights stay float32
                if parameter.grad is not None:
                    assert parameter.grad.dtype == torch.float32


@pytest.mark.parametrize("text", ["x * sigmoid(beta * x)", "prelu(x)", "ash[k=20](x)", "adact", "gelu_new"])
@pytest.mark.parametrize("dtype", HALF)
def test_under_autocast(text: str, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 6), actlang.compile(text, channels=6), nn.Linear(6, 2))
    x = torch.randn(5, 6)
    with torch.autocast("cpu", dtype=dtype):
        hidden = model[0](x)
        assert hidden.dtype == dtype  # autocast runs the linear layer in low precision
        activated = model[1](hidden)
        assert activated.dtype == dtype
        loss = model[2](activated).float().pow(2).mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model[1].parameters())
    model[1].eval()
    with torch.no_grad():
        exact = model[1](model[0](x))
        with torch.autocast("cpu", dtype=dtype):
            low = model[1](model[0](x))
    torch.testing.assert_close(low.float(), exact, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("half_parameters", [False, True])
def test_adact_trains_in_float16_on_cpu(half_parameters: bool) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), actlang.compile("adact", channels=8), nn.Linear(8, 1))
    if half_parameters:
        model = model.half()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(16, 4, dtype=torch.float16 if half_parameters else torch.float32)
    target = x.float().sum(dim=1, keepdim=True)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(5):
            optimizer.zero_grad()
            hidden = model[0](x).half()
            out = model[2](model[1](hidden).to(model[2].weight.dtype))
            loss = (out.float() - target).pow(2).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
