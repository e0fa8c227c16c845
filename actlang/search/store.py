"""The study store: one embedded sqlite file (WAL) holding a search's candidates and results.

Tables: ``meta`` (schema version, task, space, seed), ``classes`` (one row per equivalence class:
a unique key, the representative, features as float32 blobs, validity flags), ``members`` (every
string of a class), ``evaluations`` (one row per class ever scheduled: its state
``pending → running → done | failed``, the lease of a running one, the result). Every state change
is one transaction, so a ``kill -9`` loses at most the evaluations in flight; a ``running`` row
whose lease expired, or whose owner process on this host is gone, is claimable again. Stored text
is only ever parsed as data (JSON, actlang), never evaluated as code.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from actlang.errors import ActlangError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS classes (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, representative TEXT NOT NULL,
    baseline INTEGER NOT NULL DEFAULT 0, outputs BLOB, outputs_valid INTEGER NOT NULL DEFAULT 0,
    fisher BLOB, fisher_valid INTEGER);
CREATE TABLE IF NOT EXISTS members (name TEXT PRIMARY KEY, class_id INTEGER NOT NULL REFERENCES classes(id));
CREATE INDEX IF NOT EXISTS members_by_class ON members(class_id);
CREATE TABLE IF NOT EXISTS evaluations (
    class_id INTEGER PRIMARY KEY REFERENCES classes(id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    owner TEXT, lease_expires REAL, attempts INTEGER NOT NULL DEFAULT 0, order_done INTEGER,
    started REAL, finished REAL, val_acc REAL, val_loss REAL, train_loss REAL, runtime_s REAL,
    diverged INTEGER, result TEXT, error TEXT);
"""
STATES = ("pending", "running", "done", "failed")


def owner_id() -> str:
    """``host:pid:random``: who holds a lease; the pid lets a rerun on the same host see it died."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_alive(owner: str | None) -> bool:
    """False only when ``owner`` is a process on this host that no longer exists."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's process: trust its lease
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ClassRow:
    """A candidate class as stored."""

    id: int
    key: str
    representative: str
    baseline: bool
    outputs_valid: bool
    fisher_valid: bool | None


class Store:
    """Transactions over one study file. Not shared across processes as an object: open one per process."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if self.path.is_dir():
            raise ActlangError(f"store {str(self.path)!r} is a directory; give a file path such as study.db")
        if not self.path.parent.exists():
            folder = str(self.path.parent)
            raise ActlangError(f"cannot create store {str(self.path)!r}: folder {folder!r} does not exist")
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            raise ActlangError(f"cannot open store {str(self.path)!r}: {error}") from error
        self._check_version()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic state change (``BEGIN IMMEDIATE``: writers queue, readers go on)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _check_version(self) -> None:
        found = self.meta().get("schema_version")
        if found is None:
            with self.transaction() as db:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif found != str(SCHEMA_VERSION):
            raise ActlangError(
                f"store {str(self.path)!r} has schema version {found}; this actlang reads {SCHEMA_VERSION}"
            )

    # -- metadata and candidates ------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, values: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])

    def add_classes(self, rows: Iterable[tuple[str, str, bool, np.ndarray, Sequence[str]]]) -> None:
        """Insert classes ``(key, representative, baseline, outputs, members)`` in one transaction."""
        with self.transaction() as db:
            for key, representative, baseline, outputs, members in rows:
                valid = bool(np.isfinite(outputs).all())
                cursor = db.execute(
                    "INSERT INTO classes (key, representative, baseline, outputs, outputs_valid) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key, representative, int(baseline), np.asarray(outputs, np.float32).tobytes(), int(valid)),
                )
                db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?)", [(m, cursor.lastrowid) for m in members])

    def classes(self) -> list[ClassRow]:
        rows = self.db.execute(
            "SELECT id, key, representative, baseline, outputs_valid, fisher_valid FROM classes ORDER BY id"
        ).fetchall()
        return [ClassRow(i, k, r, bool(b), bool(o), None if f is None else bool(f)) for i, k, r, b, o, f in rows]

    def outputs(self, ids: Sequence[int] | None = None) -> np.ndarray:
        """Output features ``[n, points]`` float32, in id order (or the given ids' order)."""
        return self._blobs("outputs", ids)

    def fisher(self, ids: Sequence[int] | None = None) -> np.ndarray:
        return self._blobs("fisher", ids)

    def _blobs(self, column: str, ids: Sequence[int] | None) -> np.ndarray:
        rows = dict(self.db.execute(f"SELECT id, {column} FROM classes").fetchall())
        order = sorted(rows) if ids is None else list(ids)
        vectors = [np.frombuffer(rows[i], np.float32) if rows[i] is not None else None for i in order]
        width = max((len(v) for v in vectors if v is not None), default=0)
        out = np.full((len(order), width), np.nan, np.float32)
        for row, vector in enumerate(vectors):
            if vector is not None and len(vector) == width:
                out[row] = vector
        return out

    def set_fisher(self, values: dict[int, tuple[np.ndarray, bool]]) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE classes SET fisher = ?, fisher_valid = ? WHERE id = ?",
                [(np.asarray(v, np.float32).tobytes(), int(ok), i) for i, (v, ok) in values.items()],
            )

    def members(self, class_id: int) -> list[str]:
        rows = self.db.execute("SELECT name FROM members WHERE class_id = ? ORDER BY rowid", (class_id,))
        return [m for (m,) in rows]

    def member_counts(self) -> dict[int, int]:
        return dict(self.db.execute("SELECT class_id, COUNT(*) FROM members GROUP BY class_id").fetchall())

    # -- evaluations --------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        found = dict(self.db.execute("SELECT state, COUNT(*) FROM evaluations GROUP BY state").fetchall())
        return {state: found.get(state, 0) for state in STATES}

    def states(self) -> dict[int, str]:
        return dict(self.db.execute("SELECT class_id, state FROM evaluations").fetchall())

    def claim(self, class_id: int, owner: str, lease_s: float, max_attempts: int) -> bool:
        """Mark ``class_id`` running for ``owner`` if it is new, pending, or a stale lease; atomic."""
        now = time.time()
        with self.transaction() as db:
            row = db.execute("SELECT state, owner, lease_expires, attempts FROM evaluations WHERE class_id = ?",
                             (class_id,)).fetchone()
            if row is not None:
                state, holder, expires, attempts = row
                stale = state == "running" and ((expires or 0) < now or not owner_alive(holder))
                if state in ("done", "failed") or (state == "running" and not stale) or attempts >= max_attempts:
                    return False
            db.execute(
                "INSERT INTO evaluations (class_id, state, owner, lease_expires, attempts, started) "
                "VALUES (?, 'running', ?, ?, 1, ?) ON CONFLICT(class_id) DO UPDATE SET state = 'running', "
                "owner = excluded.owner, lease_expires = excluded.lease_expires, attempts = attempts + 1, "
                "started = excluded.started",
                (class_id, owner, now + lease_s, now),
            )
        return True

    def recover(self) -> int:
        """Put running evaluations whose lease expired or whose owner died back to ``pending``
        (a killed run's trials in flight); returns how many."""
        now = time.time()
        with self.transaction() as db:
            query = "SELECT class_id, owner, lease_expires FROM evaluations WHERE state = 'running'"
            rows = db.execute(query).fetchall()
            stale = [(cid,) for cid, owner, expires in rows if (expires or 0) < now or not owner_alive(owner)]
            db.executemany("UPDATE evaluations SET state = 'pending', owner = NULL, lease_expires = NULL "
                           "WHERE class_id = ?", stale)
        return len(stale)

    def pending(self) -> list[int]:
        """Classes whose evaluation was interrupted or is to be retried, oldest first."""
        return [cid for (cid,) in self.db.execute("SELECT class_id FROM evaluations WHERE state = 'pending' "
                                                  "ORDER BY started")]

    def renew(self, owner: str, lease_s: float) -> None:
        """Extend every lease ``owner`` holds (the driver's heartbeat)."""
        with self.transaction() as db:
            db.execute("UPDATE evaluations SET lease_expires = ? WHERE owner = ? AND state = 'running'",
                       (time.time() + lease_s, owner))

    def release(self, owner: str) -> None:
        """Give back what ``owner`` holds (a clean stop): running → pending."""
        with self.transaction() as db:
            db.execute("UPDATE evaluations SET state = 'pending', owner = NULL, lease_expires = NULL, "
                       "attempts = MAX(attempts - 1, 0) WHERE owner = ? AND state = 'running'", (owner,))

    def finish(self, class_id: int, owner: str, result: dict[str, Any]) -> bool:
        """Record a result (only by the lease holder); ``False`` if someone else took it over."""
        with self.transaction() as db:
            order = db.execute("SELECT COUNT(*) FROM evaluations WHERE state = 'done'").fetchone()[0]
            cursor = db.execute(
                "UPDATE evaluations SET state = 'done', finished = ?, order_done = ?, val_acc = ?, val_loss = ?, "
                "train_loss = ?, runtime_s = ?, diverged = ?, result = ?, lease_expires = NULL "
                "WHERE class_id = ? AND owner = ? AND state = 'running'",
                (time.time(), order, _real(result.get("val_acc")), _real(result.get("val_loss")),
                 _real(result.get("train_loss")), _real(result.get("runtime_s")), int(bool(result.get("diverged"))),
                 json.dumps(result, default=str), class_id, owner),
            )
            return cursor.rowcount == 1

    def fail(self, class_id: int, owner: str, error: str, final: bool) -> None:
        """Record an exception: ``failed`` if ``final``, else back to ``pending`` for a retry."""
        with self.transaction() as db:
            db.execute(
                "UPDATE evaluations SET state = ?, error = ?, finished = ?, owner = NULL, lease_expires = NULL "
                "WHERE class_id = ? AND owner = ? AND state = 'running'",
                ("failed" if final else "pending", error, time.time(), class_id, owner),
            )

    def results(self) -> list[dict[str, Any]]:
        """Every evaluation joined with its class, in the order they finished (unfinished last)."""
        counts = self.member_counts()
        rows = self.db.execute(
            "SELECT c.id, c.representative, c.baseline, e.state, e.val_acc, e.val_loss, e.train_loss, e.runtime_s, "
            "e.diverged, e.attempts, e.error, e.order_done FROM evaluations e JOIN classes c ON c.id = e.class_id "
            "ORDER BY e.order_done IS NULL, e.order_done, e.started"
        ).fetchall()
        names = ("id", "name", "baseline", "state", "val_acc", "val_loss", "train_loss", "runtime_s", "diverged",
                 "attempts", "error", "order")
        out = []
        for row in rows:
            entry = dict(zip(names, row, strict=True))
            entry["baseline"], entry["members"] = bool(entry["baseline"]), counts.get(entry["id"], 0)
            entry["diverged"] = None if entry["diverged"] is None else bool(entry["diverged"])
            out.append(entry)
        return out


def _real(value: Any) -> float | None:
    """A float for sqlite, ``None`` for missing or NaN (sqlite has no NaN: it would store NULL anyway)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number
