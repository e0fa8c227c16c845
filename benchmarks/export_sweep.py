"""Every registered primitive exported, at ranks 1–5, loaded in a process without actlang.

For each primitive (``tests/export_cases.py: case``: required hyperparameters filled in, extra
arguments as learned scalars), without channels at ranks 1–5 and with ``channels=3`` at ranks
2–5: ``exported`` files run on inputs of other sizes (batch 1 and 5, spatial 1 and 4) with
gradients w.r.t. the input and every parameter, against the module; ``onnx`` files (ranks given
by ``--onnx-ranks``) either load and reproduce the values in onnxruntime or are refused at export
with an ``UnsupportedError``; a rank the module itself rejects (``ash`` needs a batch dimension)
is counted apart. Prints one line per primitive and the counts (docs/compiler.md).

    python benchmarks/export_sweep.py                  # the full sweep (half an hour on 2 cores)
    python benchmarks/export_sweep.py --onnx-ranks 1,2,3,4,5
    python benchmarks/export_sweep.py --only ditac,gelu --onnx-ranks 2
    python benchmarks/export_sweep.py --part 2/3       # every third primitive, from the second

Files are exported and loaded a batch of primitives at a time (``--batch``), and the running
counts are printed after each batch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import actlang
from tests.export_cases import case, compare, expected, inputs, load_elsewhere, module_for, shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated primitive names (default: all)")
    parser.add_argument("--ranks", default="1,2,3,4,5", help="ranks of the exported files")
    parser.add_argument("--onnx-ranks", default="4", help="ranks of the onnx files ('' for none)")
    parser.add_argument("--part", default="1/1", help="K/N: the K-th of N slices of the primitives (registry order)")
    parser.add_argument("--batch", type=int, default=8, help="primitives whose files are loaded in one fresh process")
    args = parser.parse_args()
    only = {n for n in args.only.split(",") if n}
    ranks = [int(r) for r in args.ranks.split(",") if r]
    onnx_ranks = [int(r) for r in args.onnx_ranks.split(",") if r]
    k, n = (int(v) for v in args.part.split("/"))
    primitives = [p for p in actlang.primitives() if not only or p.name in only][k - 1 :: n]
    start = time.perf_counter()
    counts = {"exported": [0, 0], "onnx": [0, 0]}
    refused, failed, skipped = [], [], []
    # One batch at a time (export, then load in a fresh process), so a run cut short still reports.
    for first in range(0, len(primitives), args.batch):
        batch = primitives[first : first + args.batch]
        with tempfile.TemporaryDirectory() as folder:
            jobs, wants, new_refused, new_failed, new_skipped = _export_all(batch, ranks, onnx_ranks, Path(folder))
            results = load_elsewhere([job for job, _ in jobs], Path(folder)) if jobs else []
        for (job, label), want, got in zip(jobs, wants, results, strict=True):
            problem = compare(got, want, grads=job["format"] == "exported")
            counts[job["format"]][problem is None] += 1
            if problem is not None:
                new_failed.append(f"{label}: {problem}")
        for line in new_failed:
            print("FAIL", line, flush=True)
        for line in new_refused:
            print("refused", line, flush=True)
        refused += new_refused
        failed += new_failed
        skipped += new_skipped
        done = _summary(counts, refused, failed, skipped, start)
        print(f"  after {first + len(batch)} primitives: {done}", flush=True)
    print(f"{len(primitives)} primitives; {_summary(counts, refused, failed, skipped, start)}")


def _summary(counts, refused, failed, skipped, start) -> str:
    return (
        f"exported: {counts['exported'][1]} files pass (values, input and parameter gradients), "
        f"{counts['exported'][0]} fail; onnx: {counts['onnx'][1]} load and match, {counts['onnx'][0]} fail, "
        f"{len(refused)} refused at export; {len(failed)} failures in all; {len(skipped)} cases the module "
        f"itself rejects (rank); {time.perf_counter() - start:.0f} s"
    )


def _export_all(primitives, ranks, onnx_ranks, folder: Path):
    jobs, wants, refused, failed, skipped = [], [], [], [], []
    for primitive in primitives:
        text = case(primitive)
        line = []
        for channels in (None, 3):
            module = module_for(text, channels)
            for fmt, fmt_ranks in (("exported", ranks), ("onnx", onnx_ranks)):
                for rank in fmt_ranks:
                    if channels is not None and rank < 2:
                        continue
                    label = f"{text} channels={channels} rank={rank} {fmt}"
                    file = folder / f"{len(jobs) + len(failed)}.{'pt2' if fmt == 'exported' else 'onnx'}"
                    x = inputs(rank, channels, seed=rank)
                    try:
                        want = expected(module, x)
                    except actlang.ActlangError:  # the module itself takes no input of this rank (ash: rank 1)
                        skipped.append(label)
                        line.append("-")
                        continue
                    try:
                        actlang.export(module, file, shape=shape(rank, channels))
                    except actlang.UnsupportedError as error:
                        (refused if fmt == "onnx" else failed).append(f"{label}: {error}".splitlines()[0])
                        line.append("r" if fmt == "onnx" else "F")
                        continue
                    except Exception as error:  # a non-actlang error escaping export is a failure
                        failed.append(f"{label}: {type(error).__name__}: {error}".splitlines()[0])
                        line.append("E")
                        continue
                    torch.save(x, folder / f"{file.name}.x")
                    jobs.append(({"file": str(file), "format": fmt, "x": str(folder / f"{file.name}.x")}, label))
                    wants.append(want)
                    line.append(".")
        print(f"{primitive.name:<14} {''.join(line)}", flush=True)
    return jobs, wants, refused, failed, skipped


if __name__ == "__main__":
    main()
