"""``actlang search run | status | top | simulate | plot``: AQuaSurF's surrogate search (docs/search.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from actlang.errors import ActlangError

EXAMPLES = """examples:
  actlang search run --task digits --space benchmark --budget 12 --store s.db
  actlang search run --task mnist1d --space aquasurf-large --budget 50 --store large.db --workers 2
  actlang search status --store s.db --json
  actlang search top --store s.db -n 5
  actlang search simulate --table mnist1d-benchmark --strategy surrogate,random --trials 50 --json
  actlang search plot --store s.db -o progress.png --kind progress
"""

HELP = "search a space for the best activation for a task (AQuaSurF's surrogate search)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search", help=HELP,
        description="Train candidates of a search space on a task, baselines first, then the classes a "
        "surrogate (UMAP of output and Fisher features, KNN regression) predicts best. Results live in an "
        "sqlite store; rerunning the same command resumes and never retrains a class.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="search_command", metavar="COMMAND", required=True)
    _add_run(commands)
    for name, helptext, runner in (("status", "counts and the best class so far", _status),
                                   ("top", "the best classes, best first", _top)):
        sub = commands.add_parser(name, help=helptext, description=helptext)
        sub.add_argument("--store", required=True, metavar="PATH", help="the study's sqlite file")
        if name == "top":
            sub.add_argument("-n", type=_positive, default=10, metavar="N", help="how many (default 10)")
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(run=runner)
    _add_simulate(commands)
    _add_plot(commands)
    _add_export(commands)


def _add_run(commands) -> None:
    from actlang.search.pool import DEFAULT_POOL
    from actlang.search.strategy import STRATEGIES
    from actlang.search.tasks import BUILTIN

    sub = commands.add_parser("run", help="train candidates until BUDGET classes are done (resumable)",
                              description="Search SPACE for TASK. --budget counts distinct classes done, "
                              "including those of earlier runs on the same store.")
    sub.add_argument("--task", help=f"built-in ({', '.join(BUILTIN)}) or 'package.module:factory'")
    sub.add_argument("--space", help="a preset (benchmark, aquasurf-large) or a template using x, e.g. "
                     "'binary(unary(x),unary(x))' (several: separated by ';'); a bare name that is no preset "
                     "is an error")
    sub.add_argument("--budget", type=_count, required=True, metavar="N", help="distinct classes to have done")
    sub.add_argument("--store", required=True, metavar="PATH", help="sqlite file (created if missing)")
    sub.add_argument("--seed", type=int, default=0, help="seed of the pool sample, the embedding and training")
    sub.add_argument("--workers", type=_positive, default=1, help="parallel trainings (default 1)")
    _add_executor_options(sub)
    sub.add_argument("--strategy", choices=STRATEGIES, default="surrogate", help="what to try after the baselines")
    sub.add_argument("--pool", type=_positive, default=DEFAULT_POOL,
                     help=f"sample this many classes of a larger space (default {DEFAULT_POOL})")
    sub.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bars on stderr (default: when stderr is a terminal)")
    sub.add_argument("--json", action="store_true", help="print the final status as JSON")
    sub.set_defaults(run=_run)


def _add_executor_options(sub: argparse.ArgumentParser) -> None:
    from actlang.search.study import EXECUTORS

    group = sub.add_argument_group("where trials run")
    group.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="local: a process pool on this machine (default); ray: Ray tasks on a cluster")
    group.add_argument("--address", metavar="ADDR",
                       help="with --executor ray: 'auto' joins this machine's cluster (after `ray start "
                       "--head`), 'ray://host:port' a remote one; default: start Ray here for this run")
    group.add_argument("--cpus-per-trial", type=_positive_float, metavar="N",
                       help="with --executor ray: CPUs each trial asks for (default: the cluster's CPUs / workers)")
    group.add_argument("--gpus-per-trial", type=_non_negative_float, default=0.0, metavar="N",
                       help="with --executor ray: GPUs each trial asks for (default 0)")


def _add_simulate(commands) -> None:
    sub = commands.add_parser("simulate", help="replay searches on a table of measured results",
                              description="Run TRIALS searches per strategy against a table (a shipped "
                              "name such as mnist1d-benchmark, or a CSV) instead of training.")
    sub.add_argument("--table", required=True, help="mnist1d-benchmark, or a CSV with name, val_acc, fisher_*")
    sub.add_argument("--strategy", default="surrogate,outputs,fisher,random", help="comma-separated strategies")
    sub.add_argument("--trials", type=_positive, default=50, help="searches per strategy (default 50)")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--embeddings", type=_positive, default=10, help="distinct UMAP fits per strategy (default 10)")
    sub.add_argument("--plot", metavar="FILE", help="also draw the median best-so-far curves (.png/.svg)")
    sub.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.set_defaults(run=_simulate)


def _add_export(commands) -> None:
    sub = commands.add_parser("export", help="write a study's results as a replay table (CSV) for simulate",
                              description="One row per evaluated class with its Fisher features (computed "
                              "for the evaluated classes where missing); a .json beside it says where it "
                              "came from.")
    sub.add_argument("--store", required=True, metavar="PATH")
    sub.add_argument("-o", "--output", required=True, metavar="FILE", help="the CSV file")
    sub.add_argument("--note", action="append", default=[], metavar="KEY=VALUE", help="extra metadata for the .json")
    sub.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    sub.set_defaults(run=_export)


def _add_plot(commands) -> None:
    sub = commands.add_parser("plot", help="draw a study's progress or its 2-D embedding",
                              description="progress: accuracy per evaluation and the best so far "
                              "(AQuaSurF's Figure 9); embedding: the candidates' UMAP embedding coloured by "
                              "accuracy (Figure 4).")
    sub.add_argument("--store", required=True, metavar="PATH")
    sub.add_argument("-o", "--output", required=True, metavar="FILE", help=".png, .svg or .pdf")
    sub.add_argument("--kind", choices=["progress", "embedding"], default="progress")
    sub.set_defaults(run=_plot)


def _positive(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _open(path: str, task: str | None = None, space: str | None = None, **options: Any):
    from pathlib import Path

    from actlang.search.study import Study

    if task is None and not Path(path).is_file():
        raise ActlangError(f"no store at {path!r} (to create one, give --task and --space)")
    return Study(path, task=task, space=space, **options)


def _run(args: argparse.Namespace) -> int:
    study = _open(args.store, args.task, args.space, seed=args.seed, pool=args.pool, progress=args.progress)
    study.run(args.budget, workers=args.workers, executor=args.executor, strategy=args.strategy,
              progress=args.progress, **_executor_options(args))
    return _print_status(study.status(), args.json)


def _executor_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Ray options given on the command line (an error if given with the local executor)."""
    given = {"address": args.address, "cpus_per_trial": args.cpus_per_trial}
    if args.gpus_per_trial:
        given["gpus_per_trial"] = args.gpus_per_trial
    given = {key: value for key, value in given.items() if value is not None}
    if given and args.executor != "ray":
        flags = ", ".join("--" + key.replace("_", "-") for key in given)
        raise ActlangError(f"{flags}: options of --executor ray")
    return given


def _status(args: argparse.Namespace) -> int:
    return _print_status(_open(args.store).status(), args.json)


def _print_status(status: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(status))
        return 0
    best = status["best"]
    print(f"{status['task']} on {status['space']}: {status['evaluated']} of {status['classes']} classes done, "
          f"{status['failed']} failed, {status['running']} running")
    if best:
        print(f"best: {best['name']}  val_acc {best['val_acc']:.4f}")
    return 0


def _top(args: argparse.Namespace) -> int:
    rows = [{"name": r["name"], "val_acc": r["val_acc"], "members": r["members"], "diverged": r["diverged"],
             "baseline": r["baseline"]} for r in _open(args.store).top(args.n)]
    if args.json:
        print(json.dumps(rows))
        return 0
    for rank, row in enumerate(rows, 1):
        tag = " (baseline)" if row["baseline"] else ""
        print(f"{rank:>3}. {row['val_acc']:.4f}  {row['name']}{tag}  [{row['members']} members]")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from actlang.search.simulate import load_table, simulate
    from actlang.search.strategy import check_strategy

    strategies = [check_strategy(s.strip()) for s in args.strategy.split(",") if s.strip()]
    table = load_table(args.table)
    results = {s: simulate(table, s, args.trials, seed=args.seed, embeddings=args.embeddings, progress=args.progress)
               for s in strategies}
    if args.plot:
        from actlang.search.plots import plot_simulation

        plot_simulation(results, args.plot, title=f"{args.table}: {args.trials} trials per strategy")
    if args.json:
        print(json.dumps({s: {k: v for k, v in r.items() if k != "median_best_curve"} for s, r in results.items()}))
        return 0
    print(f"{'strategy':<10} {'evals to top 1% (median)':>25} {'best@25':>8} {'best@50':>8} {'best@100':>9}")
    for name, r in results.items():
        b = r["best_after"]
        print(f"{name:<10} {r['median_evals_to_top1pct']:>25.1f} {b['25']:>8.4f} {b['50']:>8.4f} {b['100']:>9.4f}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from actlang.search.export import export_table

    notes = dict(item.partition("=")[::2] for item in args.note)
    rows = export_table(_open(args.store), args.output, notes, progress=args.progress)
    print(f"wrote {rows} rows to {args.output}", file=sys.stderr)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from actlang.search.plots import plot_embedding, plot_progress

    study = _open(args.store)
    (plot_progress if args.kind == "progress" else plot_embedding)(study, args.output)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
