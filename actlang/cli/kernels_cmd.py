"""``actlang kernels``: the cache of fused kernel files — what it holds, clearing it, forgetting
failed builds, and building activations' kernels ahead of time (a machine's first calls then load
them instead of compiling)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from actlang.cli.check_cmd import add_dialect

HELP = "show, clear or fill the cache of fused kernel files (TorchInductor)"
DTYPES = ("float32", "float64", "float16", "bfloat16")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "kernels",
        help=HELP,
        description="Fused kernels are built once per activation, dtype, layout and machine and kept\n"
        "as files ($ACTLANG_CACHE_DIR/kernels, default ~/.cache/actlang/kernels). Without\n"
        "options, say where they are, how many, their size, the builds running and the\n"
        "builds that failed (a failed build keeps its activation unfused until forgotten).",
        epilog="examples:\n  actlang kernels\n  actlang kernels --build 'x*sigmoid(beta*x)' --channels 64\n"
        "  actlang kernels --retry-failed\n  actlang kernels --clear",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--build", metavar="EXPR", nargs="+",
        help="build the kernels these activations train and infer with, now, and wait for them",
    )
    action.add_argument(
        "--retry-failed", action="store_true", help="forget the failed builds: the next call tries again",
    )
    action.add_argument(
        "--clear", action="store_true",
        help="remove every kernel file, plan and leftover (a running build's lock stays)",
    )
    parser.add_argument("--dtype", choices=DTYPES, default="float32", help="--build: the inputs' dtype")
    parser.add_argument("--channels", type=int, metavar="C", help="--build: one parameter value per channel")
    parser.add_argument(
        "--rank", type=int, metavar="R",
        help="--build: the inputs' rank (default 4 with --channels, e.g. NCHW, else 1); kernels are kept per rank",
    )
    add_dialect(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from actlang.errors import ActlangError
    from actlang.kernel_cache import cache_dir

    if (args.channels is not None or args.rank is not None) and not args.build:
        raise ActlangError("--channels and --rank describe the inputs of --build")
    folder = cache_dir()
    before = _files(folder)
    done: dict = {}
    if args.clear:
        done["removed"] = _remove([p for p in before if not _running(p)] + _plans(folder))
    elif args.retry_failed:
        done["forgotten"] = _remove([p for p in before if p.suffix == ".failed"])
    elif args.build:
        done.update(_build(args, folder, before))
    summary = {**_summary(folder), **done}
    print(json.dumps(summary, indent=2) if args.json else _text(summary))
    return 0


def _files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file())
    except OSError:  # no cache yet, or not readable
        return []


def _plans(folder: Path) -> list[Path]:
    return _files(folder.parent / "plans")


def _running(path: Path) -> bool:
    """Whether ``path`` is the lock of a live build, or the partial file that build is writing."""
    from actlang.kernel_builder import lock_held
    from actlang.kernel_cache import target_of_partial

    target = target_of_partial(path)
    lock = path if path.suffix == ".lock" else None if target is None else target.with_suffix(".lock")
    return lock is not None and lock_held(lock)


def _remove(paths: list[Path]) -> dict:
    count, size = 0, 0
    for path in paths:
        try:
            size += path.stat().st_size
            path.unlink()
            count += 1
        except OSError:  # gone meanwhile, or not ours to remove
            continue
    return {"files": count, "bytes": size}


def _summary(folder: Path) -> dict:
    files = _files(folder)
    kernels = [p for p in files if p.suffix == ".pt2" and not p.name.startswith(".")]
    failed = {p.stem: _first_line(p) for p in files if p.suffix == ".failed"}
    running = {p for p in files if _running(p)}  # live builds' locks and partial files
    leftovers = [p for p in files if p not in kernels and p.suffix != ".failed" and p not in running]
    return {
        "directory": str(folder), "kernels": len(kernels), "bytes": sum(p.stat().st_size for p in kernels),
        "running": sorted(p.stem for p in running if p.suffix == ".lock"), "failed": failed,
        "leftovers": len(leftovers), "plans": len(_plans(folder)),
    }


def _first_line(path: Path) -> str:
    try:
        return (path.read_text().strip().splitlines() or [""])[0][:200]
    except OSError:
        return ""


def _build(args: argparse.Namespace, folder: Path, before: list[Path]) -> dict:
    """Train and infer once with ``fuse=True`` on a small input of the asked dtype, rank and
    channels (kernels are kept per dtype and layout, not per size), then wait for the builds that
    run in the background (DiTAC's table flow)."""
    import torch

    import actlang
    from actlang import kernel_builder

    dtype = getattr(torch, args.dtype)
    rank = args.rank if args.rank is not None else (4 if args.channels else 1)
    shape = _shape(rank, args.channels)
    start = time.perf_counter()
    for text in args.build:
        module = actlang.compile(text, fuse=True, channels=args.channels, dialect=args.dialect)
        if dtype.itemsize >= 4:  # float16/bfloat16 inputs meet float32 parameters (master weights)
            module = module.to(dtype)
        x = torch.randn(shape, dtype=dtype, requires_grad=True)
        module(x).sum().backward()
        with torch.no_grad():
            module(x.detach())
    kernel_builder.wait()
    new = sorted({p.name for p in _files(folder) if p.suffix == ".pt2"} - {p.name for p in before})
    return {"built": new, "seconds": round(time.perf_counter() - start, 1)}


def _shape(rank: int, channels: int | None) -> tuple[int, ...]:
    from actlang.errors import ActlangError

    if rank < 1 or (channels and rank < 2):
        raise ActlangError(f"--rank must be at least {2 if channels else 1}, got {rank}")
    if channels:
        return (2, channels, *([4] * (rank - 2)))
    return (256,) if rank == 1 else (2, *([4] * (rank - 1)))


def _text(summary: dict) -> str:
    size = summary["bytes"] / 2**20
    lines = [
        f"kernel files: {summary['directory']}",
        f"  {summary['kernels']} kernels ({size:.1f} MiB), {summary['plans']} plans, "
        f"{len(summary['running'])} builds running, {len(summary['failed'])} failed, {summary['leftovers']} leftovers",
    ]
    lines += [f"  failed: {name}: {error}" for name, error in summary["failed"].items()]
    if "removed" in summary:
        lines.append(f"removed {summary['removed']['files']} files ({summary['removed']['bytes'] / 2**20:.1f} MiB)")
    if "forgotten" in summary:
        lines.append(f"forgot {summary['forgotten']['files']} failed builds: the next calls try again")
    if "built" in summary:
        lines.append(f"built {len(summary['built'])} kernel files in {summary['seconds']} s")
        lines += [f"  {name}" for name in summary["built"]]
    return "\n".join(lines)
