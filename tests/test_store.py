"""The run store: named migrations, and attempts that survive a crash of the writing process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from greenloop.store import MIGRATIONS, AttemptRecord, Store, connect

WRITER = """
import os, sys
from greenloop.store import AttemptRecord, Store
store = Store(sys.argv[1])
run_id = store.start_run(kind="solve", tests_path="t.py", target="m.py", spec="", model="m", strategy="s", budget={})
for n in (1, 2):
    store.add_attempt(run_id, AttemptRecord(n=n, kind="model", messages=[{"role": "user", "content": "hi"}],
        response="r", code="x = 1", outcome=None, passed=n, total=3, green=False, feedback="f",
        prompt_tokens=1, completion_tokens=2, model_seconds=0.1, exec_seconds=0.01))
print(run_id, flush=True)
os.kill(os.getpid(), 9)  # die hard: no cleanup, no close
"""


def test_attempts_survive_a_killed_process(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = subprocess.run([sys.executable, "-c", WRITER, str(db)], capture_output=True, text=True, check=False)
    assert proc.returncode == -9
    run_id = proc.stdout.strip()
    store = Store(db)
    run = store.find_run(run_id)
    assert run is not None and run["status"] == "running"
    assert [a["passed"] for a in store.attempts(run_id)] == [1, 2]


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    db = connect(tmp_path / "a.db")
    names = [r[0] for r in db.execute("SELECT name FROM migrations")]
    assert names == [name for name, _ in MIGRATIONS]
    db.close()
    again = connect(tmp_path / "a.db")
    assert [r[0] for r in again.execute("SELECT name FROM migrations")] == names


def test_find_run_by_unique_prefix(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    run_id = store.start_run(kind="solve", tests_path="t", target="m", spec="", model="m", strategy="s", budget={})
    assert store.find_run(run_id[:17])["id"] == run_id  # type: ignore[index]
    assert store.find_run("nope") is None
    store.add_attempt(run_id, AttemptRecord(1, "model", [], "", None, None, 0, 0, False, "", 0, 0, 0.0, 0.0))
    assert store.attempts(run_id)[0]["code"] is None


def test_cost_judge_and_python_are_recorded_and_read_back_typed(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    run_id = store.start_run(kind="fix", tests_path="t", target="m", spec="", model="m", strategy="s",
                             budget={"max_calls": 3}, python="/usr/bin/python3.11")
    store.add_attempt(run_id, AttemptRecord(1, "model", [], "", "x = 1", None, 1, 2, False, "f", 10, 5, 0.5, 0.1,
                                            cost=0.0125, judge="split"))
    outcome = {"tests": [{"test_id": "t::a", "status": "passed"}], "judge": "shared"}
    store.add_attempt(run_id, AttemptRecord(2, "model", [], "", "x = 2", outcome, 1, 1, True, "", 1, 1, 0.1, 0.1,
                                            parent=1))
    store.update_run(run_id, cost=0.02, status="green")
    run = store.run_row("last")
    assert run is not None and run.id == run_id and run.cost == 0.02 and run.python == "/usr/bin/python3.11"
    assert run.budget == {"max_calls": 3} and run.status == "green"
    first, second = store.attempt_rows(run_id)
    assert (first.cost, first.judge, first.parent) == (0.0125, "split", None)
    assert (second.judge, second.parent, second.green, second.tests[0]["status"]) == ("shared", 1, True, "passed")
    assert [a.n for a in store.attempt_rows(run_id, after=1)] == [2]


def test_migration_adds_columns_to_an_existing_store(tmp_path: Path) -> None:
    import sqlite3

    old = sqlite3.connect(tmp_path / "old.db")
    old.executescript("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL);"
                      + "".join(f"BEGIN; {sql}; INSERT INTO migrations VALUES ('{name}', 0); COMMIT;"
                                for name, sql in MIGRATIONS if not name.startswith("004")))
    old.execute("INSERT INTO runs (id, created, kind, model, strategy, budget) VALUES ('r1', 1, 'solve', 'm', 's', '{}')")
    old.commit()
    old.close()
    store = Store(tmp_path / "old.db")
    run = store.run_row("r1")
    assert run is not None and run.cost == 0.0 and run.python is None
    assert store.run_row("last") == run and store.bench_row("last") is None


def test_a_repo_runs_baseline_attempt_is_read_back(tmp_path: Path) -> None:
    """`greenloop fix` records the unchanged tree as attempt 0: `show` and the report list it too."""
    store = Store(tmp_path / "r.db")
    run_id = store.start_run(kind="fix", tests_path="pytest", target="/repo", spec="", model="m", strategy="s",
                             budget={})
    for n in (0, 1):
        store.add_attempt(run_id, AttemptRecord(n, "baseline" if n == 0 else "model", [], "", None, None, n, 2,
                                                False, "", 0, 0, 0.0, 0.0))
    assert [(a.n, a.kind) for a in store.attempt_rows(run_id)] == [(0, "baseline"), (1, "model")]
    assert [a.n for a in store.attempt_rows(run_id, after=0)] == [1]
