"""``actlang search``: run, status, top, simulate, plot — in process and as a killed subprocess."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from actlang.cli import main
from actlang.search.simulate import load_table
from tests.search_fixtures import kill_9_then_rerun

ROOT = Path(__file__).resolve().parent.parent
SPACE = "unary(x)"


def run(capsys, *argv):
    code = main(["search", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_status_top_json(capsys, tmp_path):
    store = str(tmp_path / "s.db")
    code, out, _ = run(capsys, "run", "--task", "tests.search_fixtures:tiny", "--space", SPACE, "--budget", "9",
                       "--store", store, "--strategy", "random", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["evaluated"] == 9 and status["failed"] == 0 and status["running"] == 0
    assert set(status["best"]) == {"name", "val_acc"}
    code, out, _ = run(capsys, "status", "--store", store, "--json")
    assert json.loads(out) == status
    code, out, _ = run(capsys, "top", "--store", store, "-n", "4", "--json")
    top = json.loads(out)
    accuracies = [t["val_acc"] for t in top]
    assert code == 0 and len(top) == 4 and accuracies == sorted(accuracies, reverse=True)
    assert all({"name", "val_acc", "members"} <= set(t) for t in top) and top[0]["name"] == status["best"]["name"]
    code, out, _ = run(capsys, "top", "--store", store, "-n", "2")
    assert code == 0 and out.startswith("  1. ")


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--task", "nope", "--space", SPACE, "--budget", "2"], "unknown task"),
    (["run", "--task", "tests.search_fixtures:tiny", "--space", "binary(unary(x),sigmod(x))", "--budget", "2"],
     "sigmod"),
    (["status"], "no store"),
    (["top"], "no store"),
    (["run", "--space", SPACE, "--budget", "2"], "give --task"),
])
def test_bad_input_exits_2(capsys, tmp_path, argv, message):
    code, _, err = run(capsys, *argv, "--store", str(tmp_path / "s.db"))
    assert code == 2 and message in err and "Traceback" not in err


def test_bad_store_paths_exit_2(capsys, tmp_path):
    base = ["run", "--task", "tests.search_fixtures:tiny", "--space", SPACE, "--budget", "1"]
    for store, message in ((tmp_path, "directory"), (tmp_path / "no" / "s.db", "does not exist")):
        code, _, err = run(capsys, *base, "--store", str(store))
        assert code == 2 and message in err
    junk = tmp_path / "junk.db"
    junk.write_text("hello" * 1000)
    assert run(capsys, "status", "--store", str(junk))[0] == 2


def test_help_lists_the_subcommands():
    done = subprocess.run([sys.executable, "-m", "actlang", "search", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0
    assert all(word in done.stdout for word in ("run", "status", "top", "simulate", "plot", "examples:"))


def _table(tmp_path) -> Path:
    """A small table: 40 classes of the unary space with made-up accuracies and Fisher columns."""
    from actlang.search.pool import candidates

    rows = list(candidates(SPACE))
    rng = np.random.default_rng(0)
    path = tmp_path / "table.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "val_acc", "fisher_0", "fisher_1"])
        for c in rows:
            valid = np.isfinite(c.outputs).all()
            f = sorted(rng.random(2)) if valid else ["", ""]
            writer.writerow([c.representative, rng.random() if valid else 0.1, *f])
    return path


def test_simulate_json_fields(capsys, tmp_path):
    table = _table(tmp_path)
    code, out, _ = run(capsys, "simulate", "--table", str(table), "--strategy", "random", "--trials", "5", "--json")
    assert code == 0
    result = json.loads(out)["random"]
    assert set(result["best_after"]) == {"25", "50", "100"}
    assert 1 <= result["median_evals_to_top1pct"] <= len(load_table(table).names)
    best = max(load_table(table).val_acc)
    assert result["best_after"]["100"] == pytest.approx(best)  # a 27-class table is exhausted by then
    assert run(capsys, "simulate", "--table", str(tmp_path / "none.csv"), "--strategy", "random")[0] == 2
    assert run(capsys, "simulate", "--table", str(table), "--strategy", "genetic")[0] == 2


def test_shipped_table():
    table = load_table("mnist1d-benchmark")
    assert len(table.names) >= 608 and len(table.baselines) == 8
    assert table.fisher.shape[1] == 51 and np.isfinite(table.fisher).all(axis=1).sum() > 300
    assert 0.85 < table.val_acc[table.names.index("relu(x)")] < 0.95


def test_plot_progress_png(capsys, tmp_path):
    store = str(tmp_path / "s.db")
    run(capsys, "run", "--task", "tests.search_fixtures:tiny", "--space", SPACE, "--budget", "9", "--store", store,
        "--strategy", "random")
    code, _, _ = run(capsys, "plot", "--store", store, "-o", str(tmp_path / "p.png"))
    assert code == 0 and (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert run(capsys, "plot", "--store", store, "-o", str(tmp_path / "p.txt"))[0] == 2


def test_kill_9_then_rerun_loses_nothing_and_redoes_nothing(tmp_path):
    store = tmp_path / "s.db"
    command = [sys.executable, "-m", "actlang", "search", "run", "--task", "tests.search_fixtures:slow", "--space",
               SPACE, "--budget", "10", "--store", str(store), "--strategy", "random", "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before, after, states = kill_9_then_rerun(command, store, ROOT, env)
    assert 3 <= len(before) < 10
    assert len(after) == 10 and len({row[0] for row in after}) == 10
    assert after[: len(before)] == before  # nothing done was redone (same finish times and results)
    assert states == {"done": 10}  # the trials in flight at the kill were resumed first, not left running
