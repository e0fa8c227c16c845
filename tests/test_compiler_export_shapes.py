"""Exports at any rank that train: shapes, ranks, gradients in a process without actlang, ONNX
files that load or are refused, formats from file names, the CLI. The fast subset of
``benchmarks/export_sweep.py`` (every primitive × ranks 1–5; counts in docs/compiler.md)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import actlang
from actlang.cli import main
from actlang.compiler.export import example_input
from actlang.registry import Primitive, define, unregister
from tests.export_cases import compare, expected, inputs, load_elsewhere, module_for, shape
from tests.test_compiler_export import onnx_available

LEARNED = "x * sigmoid(beta * x) where beta = 1.5"
ONNX = onnx_available()
# (expression, channels, rank, format): loaded together in one fresh process.
FILES = [
    (LEARNED, 3, 2, "exported"),
    (LEARNED, 3, 5, "exported"),
    ("prelu(x) + erfc(softplus(x))^2", None, 1, "exported"),
    ("prelu(x) + erfc(softplus(x))^2", None, 3, "exported"),
    ("mix(x, q * x) where q = 0.75", 3, 4, "exported"),
    ("ditac(x)", 3, 4, "exported"),
    *([("ditac(x)", 3, 2, "onnx")] if ONNX else []),
]


@pytest.fixture(scope="module")
def round_trips(tmp_path_factory):
    """Each file of FILES written, then run in a fresh process on inputs of other sizes (and, for
    two files, of another rank); returns ``(files, results, wanted)``."""
    folder = tmp_path_factory.mktemp("export_shapes")
    jobs, wanted, files = [], [], []
    for i, (text, channels, rank, fmt) in enumerate(FILES):
        module = module_for(text, channels)
        suffix = "pt2" if fmt == "exported" else "onnx"
        path = actlang.export(module, folder / f"{i}.{suffix}", shape=shape(rank, channels))
        files.append(path)
        for seed in (1, 2):  # batch 5 / spatial 4 and batch 1 / spatial 1 (other than traced)
            x = inputs(rank, channels, seed=seed)
            torch.save(x, folder / f"{i}-{seed}.x")
            jobs.append({"file": str(path), "format": fmt, "x": str(folder / f"{i}-{seed}.x")})
            wanted.append(expected(module, x))
    for i, rank in ((1, 4), (len(FILES) - 1, 3)):  # another rank than the file's
        torch.save(torch.randn(shape(rank, FILES[i][1])), folder / f"other-{i}.x")
        jobs.append({"file": str(files[i]), "format": FILES[i][3], "x": str(folder / f"other-{i}.x")})
    return files, load_elsewhere(jobs, folder), wanted


def test_files_reproduce_values_and_gradients_at_other_sizes(round_trips):
    _, results, wanted = round_trips
    for i, (got, want) in enumerate(zip(results, wanted, strict=False)):
        text, channels, rank, fmt = FILES[i // 2]
        problem = compare(got, want, grads=fmt == "exported")
        assert problem is None, f"{text} channels={channels} rank={rank} {fmt}: {problem}"
        if fmt == "exported":  # a parameter gradient reached every parameter
            assert all(g is not None for g in got["params"].values()), text


def test_a_file_refuses_another_rank_instead_of_broadcasting_wrongly(round_trips):
    _, results, wanted = round_trips
    other = results[len(wanted) :]
    assert "number of dimensions" in other[0]["error"]  # rank-5 .pt2 given rank 4
    if ONNX:
        assert "rank" in other[1]["error"].lower()  # rank-2 .onnx given rank 3


def test_exported_ditac_trains_its_theta_with_no_out_kernels(round_trips):
    _, results, _ = round_trips
    ditac = results[2 * 5]  # FILES[5], first input
    assert ditac["out_kernels"] == [] and "error" not in ditac
    assert ditac["params"]["ditac_0.theta"] is not None and bool(ditac["params"]["ditac_0.theta"].abs().sum() > 0)


@pytest.mark.parametrize(
    ("channels", "channel_dim", "want"),
    [(None, 1, (2, 3, 3, 3)), (64, 1, (2, 64, 3, 3)), (64, -1, (2, 3, 3, 64)), (5, 4, (2, 3, 3, 3, 5))],
)
def test_the_default_example_is_rank_four_with_the_channels_in_place(channels, channel_dim, want):
    module = actlang.compile(LEARNED, channels=channels, channel_dim=channel_dim)
    assert tuple(example_input(module).shape) == want


def test_sizes_below_two_are_traced_at_two_so_they_stay_dynamic():
    assert tuple(example_input(actlang.compile("x"), (1, 0, 7)).shape) == (2, 2, 7)
    assert tuple(example_input(actlang.compile(LEARNED, channels=1), (1, 1)).shape) == (2, 1)
    example = torch.zeros(4, 3, dtype=torch.float64)
    traced = example_input(actlang.compile(LEARNED, channels=3), example=example)
    assert traced.shape == (4, 3) and traced.dtype == torch.float64


@pytest.mark.parametrize(
    ("options", "channels", "match"),
    [
        ({"shape": (2, 4, 3)}, 3, "3 channels along dimension 1"),
        ({"shape": (8,)}, 3, "no dimension 1"),
        ({"shape": ()}, None, "1 to 8"),
        ({"shape": (2, -1)}, None, "non-negative"),
        ({"shape": "8,64"}, None, "sequence of sizes"),
        ({"shape": (2.5, 3)}, None, "sequence of sizes"),
        ({"shape": (2, 3), "example": torch.zeros(2, 3)}, None, "not both"),
        ({"example": torch.zeros(2, 3, dtype=torch.int64)}, None, "floating-point"),
        ({"example": [1.0, 2.0]}, None, "floating-point"),
    ],
)
def test_bad_shapes_are_actlang_errors_and_write_nothing(options, channels, match, tmp_path):
    with pytest.raises(actlang.ActlangError, match=match):
        actlang.export(actlang.compile(LEARNED, channels=channels), tmp_path / "f.pt2", **options)
    assert not (tmp_path / "f.pt2").exists()


def test_the_format_follows_the_file_name_and_a_conflict_is_refused(tmp_path):
    module = actlang.compile("prelu(x)")
    x = torch.randn(3, 3, 3, 3)
    assert torch.allclose(torch.export.load(actlang.export(module, tmp_path / "a.pt2")).module()(x), module(x))
    assert torch.allclose(torch.jit.load(actlang.export(module, tmp_path / "a.pt"))(x[0]), module(x[0]))
    for name, fmt in (("b.onnx", "torchscript"), ("b.pt2", "onnx"), ("b.ONNX", "exported")):
        with pytest.raises(actlang.UnsupportedError, match="named as"):
            actlang.export(module, tmp_path / name, format=fmt)
        assert not (tmp_path / name).exists()


def test_cli_export_takes_the_shape_and_infers_the_format(tmp_path, capsys):
    path = tmp_path / "p.pt2"
    args = ["export", "prelu(x)", "-o", str(path), "--channels", "64", "--shape", "8,64", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "exported"
    loaded = torch.export.load(path).module()
    assert loaded(torch.randn(5, 64)).shape == (5, 64) and loaded(torch.randn(1, 64)).shape == (1, 64)
    with pytest.raises(RuntimeError, match="number of dimensions"):
        loaded(torch.randn(5, 64, 2, 2))
    assert main(["export", "prelu(x)", "-o", str(tmp_path / "q.pt2"), "--channels", "64", "--shape", "8,3"]) == 2
    assert "64 channels" in capsys.readouterr().err
    for bad in ("8,a", "2,x", "2,,3", "4x"):  # argparse: not a list of sizes (2,x was read as [2])
        with pytest.raises(SystemExit) as exited:
            main(["export", "prelu(x)", "-o", str(tmp_path / "r.pt2"), "--shape", bad])
        assert exited.value.code == 2
    assert not (tmp_path / "q.pt2").exists() and not (tmp_path / "r.pt2").exists()


def test_cli_compile_to_an_onnx_name_writes_onnx(tmp_path, capsys, monkeypatch):
    from actlang.compiler.export import _WRITERS

    written = []  # the ONNX writer itself is covered above; here: which writer, which shape

    def fake(module, path, x):  # (the CLI stages the file in a scratch folder, then copies it)
        written.append((path.suffix, x.shape))
        path.write_bytes(b"onnx")

    monkeypatch.setitem(_WRITERS, "onnx", fake)
    assert main(["compile", "gelu(x)", "-o", str(tmp_path / "g.onnx"), "--shape", "4"]) == 0
    assert "(onnx)" in capsys.readouterr().out and written == [(".onnx", (4,))]
    assert (tmp_path / "g.onnx").read_bytes() == b"onnx"
    assert main(["compile", "gelu(x)", "-o", str(tmp_path / "g.pt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "torchscript"


# ---- a module primitive whose ONNX file onnxruntime cannot run ---------------------------------


class BoolWhere(nn.Module):
    """``x`` where ``x > 0 or x < -1``, else 0 — through a ``Where`` over booleans, an op
    onnxruntime has no kernel for."""

    def __init__(self, hp, channels, channel_dim) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.where(x > 0, x > -1, x < -1).to(x.dtype)


@pytest.fixture
def bool_where():
    define(
        Primitive(
            name="test_bool_where", doc="tests only", source="tests", torch=None,
            numpy=lambda x: x * ((x > 0) | (x < -1)), module=f"{__name__}:BoolWhere",
        )
    )
    try:
        yield
    finally:
        unregister("test_bool_where")


@pytest.mark.skipif(not ONNX, reason="onnx export needs onnxscript and onnxruntime (dev extra)")
def test_an_onnx_file_onnxruntime_cannot_run_is_refused_and_deleted(bool_where, tmp_path):
    module = actlang.compile("test_bool_where(x) + x")
    with pytest.raises(actlang.UnsupportedError, match="onnxruntime cannot run") as caught:
        actlang.export(module, tmp_path / "w.onnx", shape=(4,))
    assert "Where" in str(caught.value) and "torchscript, exported" in str(caught.value)
    assert not (tmp_path / "w.onnx").exists()
    path = actlang.export(module, tmp_path / "w.pt2", shape=(4,))  # the other formats hold it
    x = torch.randn(6)
    assert torch.allclose(torch.export.load(path).module()(x), module(x))


@pytest.mark.parametrize("where", ["missing/f.pt2", ".", None, ""])
def test_paths_that_cannot_be_written_are_actlang_errors(where, tmp_path, capsys):
    path = where if where in (None, "") else tmp_path / where
    with pytest.raises(actlang.ActlangError, match=r"cannot write|needs a file path"):
        actlang.export(actlang.compile("x"), path)
    if where not in (None, ""):
        assert main(["export", "gelu(x)", "-o", str(path)]) == 2  # a message, not a traceback
        assert "cannot write" in capsys.readouterr().err
