"""``actlang compile EXPR [-o FILE --format F]``: print the generated code, or write a module file.

``actlang export EXPR -o FILE`` is the same with the output file required.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from actlang.cli import dash_note
from actlang.errors import ActlangError

# actlang.compiler.export.FORMATS, written out so that `--help` does not import torch (a test keeps them equal).
FORMATS = ("torchscript", "exported", "onnx")
HELP = "compile an activation to PyTorch: print its code or write a module file"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compile",
        help=HELP,
        description="Compile EXPR to an nn.Module. Without -o, print the generated forward; with -o, export "
        "the module to FILE (it loads without actlang).",
        epilog=dash_note("compile", "-x*sigmoid(x)"),
    )
    add_arguments(parser, output_required=False)


def add_arguments(parser: argparse.ArgumentParser, output_required: bool) -> None:
    parser.add_argument("expr", metavar="EXPR", help="activation text, e.g. 'erfc(softplus(x))^2'")
    parser.add_argument("-o", "--output", metavar="FILE", required=output_required, help="file to write")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="file format: torchscript (torch.jit.load), exported (torch.export.load), onnx "
                        "(onnxruntime); by default from FILE's name: .pt2 exported, .onnx onnx, else "
                        "torchscript")
    parser.add_argument("--shape", type=_shape, default=None, metavar="N,C,...",
                        help="example input shape of exported/onnx files, e.g. 8,64,32,32: the file takes inputs of "
                        "this rank, every size dynamic but the channels (default 2,C,3,3)")
    parser.add_argument("--channels", type=int, default=None, metavar="C", help="one parameter value per channel")
    parser.add_argument("--channel-dim", type=int, default=1, metavar="D", help="the channel dimension (default 1)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(run=run)


def check_writable(output: str) -> None:
    """Fail before compiling when FILE cannot be written: its folder is missing or read-only, or
    it is a folder itself."""
    path = Path(output)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ActlangError(f"cannot write '{output}': it is a directory")
    if not folder.is_dir():
        raise ActlangError(f"cannot write '{output}': no directory '{folder}'")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ActlangError(f"cannot write '{output}': permission denied")


def write(module, output: str, format: str, shape: tuple[int, ...] | None = None) -> None:
    """``export``, with a failed write as an ActlangError (no OSError, no torch's
    ``[enforce fail at inline_container.cc]``).

    The exporters write through C++ streams, and a write that fails there (a full disk,
    ``/dev/full``) aborts the process (``std::__ios_failure``, ``c10::Error``) instead of raising.
    So the file is exported into a scratch folder (in memory where there is one: ``/dev/shm``)
    and then copied to ``output`` by Python, whose failed writes are exceptions."""
    import shutil
    import tempfile

    from actlang.compiler import export

    target = Path(output)
    with tempfile.TemporaryDirectory(prefix="actlang-export-", dir=_scratch_folder()) as scratch:
        staged = Path(scratch) / f"module{_SUFFIX[format]}"  # a name the format's writer expects
        try:
            export(module, staged, format, shape=shape)
        except OSError as error:
            raise ActlangError(f"cannot write '{output}': {error.strerror or error} (in the scratch folder "
                               f"{scratch})") from None
        except RuntimeError as error:
            reason = str(error).split("\n", 1)[0]
            if "enforce fail" in reason or "inline_container" in reason:  # torch's zip writer: fopen failed
                raise ActlangError(f"cannot write '{output}': the file could not be opened or written") from None
            raise
        try:
            shutil.copyfile(staged, target)
        except OSError as error:
            _discard(target)
            raise ActlangError(f"cannot write '{output}': {error.strerror or error}") from None


_SUFFIX = {"torchscript": ".pt", "exported": ".pt2", "onnx": ".onnx"}


def _scratch_folder() -> str | None:
    """Where a file is staged before it is copied to its place: ``/dev/shm`` (memory, so a full disk
    does not fail the exporter's C++ writer) when it is a writable folder, else the temp folder."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _discard(target: Path) -> None:
    """Remove what a failed copy left at ``target``: a regular file cut short (never a device)."""
    import stat

    try:
        if stat.S_ISREG(target.stat().st_mode):
            target.unlink()
    except OSError:
        pass


def run(args: argparse.Namespace) -> int:
    from actlang.compiler import compile as compile_
    from actlang.compiler.export import file_format

    chosen = file_format(args.output, args.format) if args.output else None
    if args.output:
        check_writable(args.output)
    module = compile_(args.expr, channels=args.channels, channel_dim=args.channel_dim)
    summary = {
        "expression": module.expression,
        "parameters": {name: list(p.shape) for name, p in module.named_parameters()},
        "code": module.code,
    }
    if args.output:
        write(module, args.output, chosen, args.shape)
        summary |= {"output": args.output, "format": chosen}
    if args.json:
        print(json.dumps(summary, indent=2))
    elif args.output:
        print(f"wrote {args.output} ({summary['format']})")
    else:
        print(module.code, end="")
    return 0


def _shape(text: str) -> list[int]:
    """``8,64,32,32`` (or ``8x64x32x32``) → [8, 64, 32, 32]; an empty size (``2,x``, ``2,,3``) is a
    ValueError, which argparse reports as a usage error (``2,x`` was read as [2], a rank-1 file)."""
    if not text.strip():
        return []
    parts = text.replace("x", ",").split(",")
    if any(not part.strip() for part in parts):
        raise ValueError(f"empty size in {text!r}")
    return [int(part) for part in parts]
