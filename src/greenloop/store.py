"""The run store: every run and every attempt, appended to SQLite as it happens.

One function (`connect`) opens the database and applies the named, append-only migrations.
Each attempt is committed on its own, so a crash loses at most the attempt in flight.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from greenloop.errors import BadInput
from greenloop.rows import AttemptRecord, AttemptRow, BenchProblemRow, BenchRow, RunRow

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_runs_and_attempts",
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created REAL NOT NULL,
            kind TEXT NOT NULL,
            tests_path TEXT,
            target TEXT,
            spec TEXT,
            model TEXT NOT NULL,
            strategy TEXT NOT NULL,
            budget TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'running',
            message TEXT NOT NULL DEFAULT '',
            iterations INTEGER NOT NULL DEFAULT 0,
            model_calls INTEGER NOT NULL DEFAULT 0,
            tests_passed INTEGER NOT NULL DEFAULT 0,
            tests_total INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            seconds REAL NOT NULL DEFAULT 0,
            model_seconds REAL NOT NULL DEFAULT 0,
            best_attempt INTEGER,
            finished REAL
        );
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            n INTEGER NOT NULL,
            parent INTEGER,
            kind TEXT NOT NULL,
            created REAL NOT NULL,
            messages TEXT NOT NULL,
            response TEXT NOT NULL,
            code TEXT,
            outcome TEXT,
            passed INTEGER NOT NULL DEFAULT 0,
            total INTEGER NOT NULL DEFAULT 0,
            green INTEGER NOT NULL DEFAULT 0,
            feedback TEXT NOT NULL DEFAULT '',
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            model_seconds REAL NOT NULL DEFAULT 0,
            exec_seconds REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX attempts_by_run ON attempts(run_id, n);
        """,
    ),
    (
        "003_bench",
        """
        CREATE TABLE benches (
            id TEXT PRIMARY KEY,
            created REAL NOT NULL,
            benchmark TEXT NOT NULL,
            key TEXT NOT NULL,
            config TEXT NOT NULL,
            seconds REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX benches_by_key ON benches(key, created);
        CREATE TABLE bench_problems (
            bench_id TEXT NOT NULL REFERENCES benches(id),
            problem TEXT NOT NULL,
            run_id TEXT REFERENCES runs(id),
            status TEXT NOT NULL,
            solved INTEGER NOT NULL,
            result TEXT NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY (bench_id, problem)
        );
        """,
    ),
    (
        # What each attempt and run cost (USD), which judge judged an attempt (split | shared), and which
        # interpreter ran a repo-mode run.
        "004_cost_judge_python",
        """
        ALTER TABLE runs ADD COLUMN cost REAL NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN python TEXT;
        ALTER TABLE attempts ADD COLUMN cost REAL NOT NULL DEFAULT 0;
        ALTER TABLE attempts ADD COLUMN judge TEXT;
        """,
    ),
    (
        # `iterations` counted attempts (model replies, repairs, duplicates); say so.
        "005_runs_attempts",
        "ALTER TABLE runs RENAME COLUMN iterations TO attempts;",
    ),
    (
        # Requests the model client retried (rate limits, server errors, timeouts) before each reply.
        "006_attempt_retries",
        "ALTER TABLE attempts ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;",
    ),
]


def default_path() -> Path:
    env = os.environ.get("GREENLOOP_DB")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("greenloop")) / "runs.db"


class StoreError(BadInput):
    pass


LAST = "last"  # accepted wherever a run or bench id is: the newest one


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating if needed) the store at `path` and bring its schema up to date.

    `readonly` opens an existing store for reading only (the live view): nothing is created or migrated,
    and the typed reads fill columns an older schema lacks with their defaults.
    """
    path = Path(path)
    if readonly:
        try:
            db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=30, check_same_thread=False,
                                 isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("SELECT 1 FROM runs LIMIT 1")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the run store at {path}: {exc}; set --db or GREENLOOP_DB") from None
        return db
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
        done = {row[0] for row in db.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name not in done:
                db.executescript(f"BEGIN; {sql}; INSERT INTO migrations VALUES ('{name}', {time.time()}); COMMIT;")
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open the run store at {path}: {exc}; set --db or GREENLOOP_DB") from None
    return db


class Store:
    """The run store: runs, attempts and benches; callers never write SQL."""

    def __init__(self, path: str | Path | None = None, *, readonly: bool = False) -> None:
        self.path = Path(path) if path else default_path()
        self.db = connect(self.path, readonly=readonly)

    def close(self) -> None:
        self.db.close()

    def start_run(self, *, kind: str, tests_path: str, target: str, spec: str, model: str, strategy: str,
                  budget: dict[str, Any], python: str | None = None) -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
        self.db.execute(
            "INSERT INTO runs (id, created, kind, tests_path, target, spec, model, strategy, budget, python) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, time.time(), kind, tests_path, target, spec, model, strategy, json.dumps(budget), python),
        )
        return run_id

    def add_attempt(self, run_id: str, a: AttemptRecord) -> int:
        cursor = self.db.execute(
            "INSERT INTO attempts (run_id, n, parent, kind, created, messages, response, code, outcome, passed, "
            "total, green, feedback, prompt_tokens, completion_tokens, model_seconds, exec_seconds, cost, judge, "
            "retries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, a.n, a.parent, a.kind, time.time(), json.dumps(a.messages), a.response, a.code,
             json.dumps(a.outcome) if a.outcome is not None else None, a.passed, a.total, int(a.green),
             a.feedback, a.prompt_tokens, a.completion_tokens, a.model_seconds, a.exec_seconds, a.cost, a.judge,
             a.retries),
        )
        return int(cursor.lastrowid or 0)

    def update_run(self, run_id: str, **fields: Any) -> None:
        allowed = {"status", "message", "attempts", "model_calls", "tests_passed", "tests_total",
                   "prompt_tokens", "completion_tokens", "seconds", "model_seconds", "best_attempt", "finished", "cost", "python"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown run fields: {sorted(unknown)}")
        assignments = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    def find_run(self, run_id: str) -> dict[str, Any] | None:
        """The run with this id, or the only run whose id starts with it; `last` is the newest run."""
        if run_id == LAST:
            row = self.db.execute("SELECT * FROM runs ORDER BY created DESC, rowid DESC LIMIT 1").fetchone()
            return dict(row) if row else None
        rows = [dict(r) for r in self.db.execute(
            "SELECT * FROM runs WHERE id = ? OR id LIKE ? ORDER BY created DESC LIMIT 2", (run_id, run_id + "%"))]
        exact = [r for r in rows if r["id"] == run_id]
        if exact:
            return exact[0]
        return rows[0] if len(rows) == 1 else None

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM attempts WHERE run_id = ? ORDER BY n", (run_id,))
        result = []
        for r in rows:
            d = dict(r)
            d["messages"] = json.loads(d["messages"])
            d["outcome"] = json.loads(d["outcome"]) if d["outcome"] else None
            d["green"] = bool(d["green"])
            result.append(d)
        return result

    def attempt(self, attempt_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        return dict(row) if row else None

    # Typed reads: what the report, the live view and `show` use instead of SQL.

    def run_row(self, ref: str) -> RunRow | None:
        row = self.find_run(ref)
        return RunRow.from_dict(row) if row else None

    def run_rows(self, limit: int = 20) -> list[RunRow]:
        return [RunRow.from_dict(r) for r in self.runs(limit)]

    def attempt_rows(self, run_id: str, after: int = -1) -> list[AttemptRow]:
        """The run's attempts in order, repo mode's baseline (n = 0) included; `after` skips those
        with `n <= after` (the live view's cursor)."""
        rows = self.db.execute("SELECT * FROM attempts WHERE run_id = ? AND n > ? ORDER BY n, id", (run_id, after))
        return [AttemptRow.from_dict(dict(r)) for r in rows]

    def bench_row(self, ref: str) -> BenchRow | None:
        """The bench with this id, or the only one whose id starts with it; `last` is the newest."""
        if ref == LAST:
            rows = list(self.db.execute("SELECT * FROM benches ORDER BY created DESC LIMIT 1"))
        else:
            rows = [r for r in self.db.execute(
                "SELECT * FROM benches WHERE id = ? OR id LIKE ? ORDER BY created DESC LIMIT 2", (ref, ref + "%"))]
            exact = [r for r in rows if r["id"] == ref]
            rows = exact or (rows if len(rows) == 1 else [])
        return BenchRow.from_dict(dict(rows[0])) if rows else None

    def bench_rows(self, limit: int = 20) -> list[BenchRow]:
        rows = self.db.execute("SELECT * FROM benches ORDER BY created DESC LIMIT ?", (limit,))
        return [BenchRow.from_dict(dict(r)) for r in rows]

    def bench_problem_rows(self, bench_id: str) -> list[BenchProblemRow]:
        rows = self.db.execute("SELECT * FROM bench_problems WHERE bench_id = ? ORDER BY created", (bench_id,))
        return [BenchProblemRow.from_dict(dict(r)) for r in rows]

    # Benches: one row per bench (keyed by its configuration), one per finished problem.
    def bench_by_key(self, key: str) -> str | None:
        """The newest bench recorded under `key`: the one a resumed bench continues."""
        row = self.db.execute("SELECT id FROM benches WHERE key = ? ORDER BY created DESC LIMIT 1", (key,)).fetchone()
        return str(row[0]) if row else None

    def start_bench(self, benchmark: str, key: str, config: dict[str, Any]) -> str:
        bench_id = "bench-" + time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
        self.db.execute("INSERT INTO benches (id, created, benchmark, key, config) VALUES (?, ?, ?, ?, ?)",
                        (bench_id, time.time(), benchmark, key, json.dumps(config)))
        return bench_id

    def bench_seconds(self, bench_id: str) -> float:
        row = self.db.execute("SELECT seconds FROM benches WHERE id = ?", (bench_id,)).fetchone()
        return float(row[0]) if row else 0.0

    def set_bench_seconds(self, bench_id: str, seconds: float) -> None:
        self.db.execute("UPDATE benches SET seconds = ? WHERE id = ?", (seconds, bench_id))

    def bench_results(self, bench_id: str) -> dict[str, dict[str, Any]]:
        """Each finished problem's result, by problem id."""
        rows = self.db.execute("SELECT problem, result FROM bench_problems WHERE bench_id = ?", (bench_id,))
        return {str(r[0]): dict(json.loads(r[1])) for r in rows}

    def record_bench_problem(self, bench_id: str, problem: str, run_id: str, status: str, solved: bool,
                             result: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO bench_problems (bench_id, problem, run_id, status, solved, result, "
                        "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (bench_id, problem, run_id, status, int(solved), json.dumps(result), time.time()))
