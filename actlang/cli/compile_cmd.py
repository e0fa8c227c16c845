"""``actlang compile EXPR [-o FILE --format F]``: print the generated code, or write a module file.

``actlang export EXPR -o FILE`` is the same with the output file required.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from actlang.errors import ActlangError, UnsupportedError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compile",
        help="compile an activation to PyTorch: print its code or write a module file",
        description="Compile EXPR to an nn.Module. Without -o, print the generated forward; with -o, export "
        "the module to FILE (it loads without actlang).",
    )
    add_arguments(parser, output_required=False)


def add_arguments(parser: argparse.ArgumentParser, output_required: bool) -> None:
    from actlang.compiler.export import FORMATS

    parser.add_argument("expr", metavar="EXPR", help="activation text, e.g. 'erfc(softplus(x))^2'")
    parser.add_argument("-o", "--output", metavar="FILE", required=output_required, help="file to write")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="file format: torchscript (torch.jit.load), exported (torch.export.load), onnx "
                        "(onnxruntime); by default from FILE's extension: .onnx, .pt2, else torchscript")  # fmt: skip
    parser.add_argument("--channels", type=int, default=None, metavar="C", help="one parameter value per channel")
    parser.add_argument("--channel-dim", type=int, default=1, metavar="D", help="the channel dimension (default 1)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(run=run)


# File extensions that name an export format; any other extension is TorchScript's.
EXTENSIONS = {".onnx": "onnx", ".pt2": "exported"}


def output_format(output: str, given: str | None) -> str:
    """The export format: ``given``, or the one FILE's extension names; a contradiction is an error
    (``--format torchscript -o a.onnx`` would write a file no ONNX reader opens)."""
    implied = EXTENSIONS.get(Path(output).suffix.lower())
    if given is None:
        return implied or "torchscript"
    if implied is not None and implied != given:
        raise UnsupportedError(
            f"--format {given} contradicts the extension of '{output}', which names {implied}",
            hint=f"drop --format, or name the file for {given}",
        )
    return given


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


def write(module, output: str, format: str) -> None:
    """``export``, with a failed write as an ActlangError (no OSError, no torch's
    ``[enforce fail at inline_container.cc]``)."""
    from actlang.compiler import export

    try:
        export(module, output, format)
    except OSError as error:
        raise ActlangError(f"cannot write '{output}': {error.strerror or error}") from None
    except RuntimeError as error:
        reason = str(error).split("\n", 1)[0]
        if "enforce fail" in reason or "inline_container" in reason:  # torch's zip writer: fopen failed
            raise ActlangError(f"cannot write '{output}': the file could not be opened or written") from None
        raise


def run(args: argparse.Namespace) -> int:
    from actlang.compiler import compile as compile_

    if args.output:
        args.format = output_format(args.output, args.format)
        check_writable(args.output)
    module = compile_(args.expr, channels=args.channels, channel_dim=args.channel_dim)
    summary = {
        "expression": module.expression,
        "parameters": {name: list(p.shape) for name, p in module.named_parameters()},
        "code": module.code,
    }
    if args.output:
        write(module, args.output, args.format)
        summary |= {"output": args.output, "format": args.format}
    if args.json:
        print(json.dumps(summary, indent=2))
    elif args.output:
        print(f"wrote {args.output} ({args.format})")
    else:
        print(module.code, end="")
    return 0
