"""What a report shows, read from the store into plain values: a run with its attempts, a bench with its problems.

Pure reads and arithmetic; the templates and the plots only format these.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from greenloop.rows import AttemptRow, BenchProblemRow, BenchRow, RunRow
from greenloop.store import Store, StoreError


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add" | "del" | "hunk" | "meta" | "same"
    text: str


@dataclass(frozen=True)
class AttemptView:
    row: AttemptRow
    at: float  # seconds since the run started, when it was recorded
    best_so_far: int  # tests passed by the best attempt up to and including this one
    diff_against: str  # what the diff is against, in words
    diff: list[DiffLine]

    @property
    def first_line(self) -> str:
        """The feedback's first line, for the attempts table."""
        lines = [line for line in self.row.feedback.splitlines() if line.strip()]
        return lines[0] if lines else ("all tests passed" if self.row.green else "")

    @property
    def tokens(self) -> int:
        return self.row.prompt_tokens + self.row.completion_tokens


@dataclass
class RunView:
    run: RunRow
    attempts: list[AttemptView]
    test_ids: list[str] = field(default_factory=list)  # every test seen, in first-seen order

    @property
    def exec_seconds(self) -> float:
        return sum(a.row.exec_seconds for a in self.attempts)

    @property
    def model_seconds(self) -> float:
        return self.run.model_seconds or sum(a.row.model_seconds for a in self.attempts)

    @property
    def cost(self) -> float:
        return self.run.cost or sum(a.row.cost for a in self.attempts)

    @property
    def judges(self) -> list[str]:
        return sorted({a.row.judge for a in self.attempts if a.row.judge})

    @property
    def lineage(self) -> bool:
        """Whether any attempt names a parent (tree search, revisions): the plot draws the edges."""
        return any(a.row.parent is not None for a in self.attempts)


def _diff(old: str, new: str, old_name: str, new_name: str) -> list[DiffLine]:
    lines: list[DiffLine] = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, lineterm=""):
        if line.startswith(("---", "+++")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = {"+": "add", "-": "del"}.get(line[:1], "same")
        lines.append(DiffLine(kind, line))
    return lines


def _repo_diff(code: str) -> list[DiffLine]:
    """A repo-mode attempt's code is already a diff against the repository."""
    return [DiffLine("meta" if line.startswith(("---", "+++", "diff ")) else "hunk" if line.startswith("@@")
                     else {"+": "add", "-": "del"}.get(line[:1], "same"), line) for line in code.splitlines()]


def attempt_views(run: RunRow, rows: list[AttemptRow], earlier: list[AttemptRow] | None = None,
                  best_before: int = 0) -> list[AttemptView]:
    """Views of `rows`; `earlier` are the run's attempts before them (parents are looked up there too)."""
    by_n = {a.n: a for a in (earlier or [])}
    best = best_before
    views = []
    for a in rows:
        best = max(best, a.passed)
        if run.kind == "fix":
            against, diff = "the repository", _repo_diff(a.code or "")
        elif a.parent is not None and a.parent in by_n:
            against = f"attempt {a.parent}"
            diff = _diff(by_n[a.parent].code or "", a.code or "", f"attempt {a.parent}", f"attempt {a.n}")
        else:
            against, diff = "nothing (a fresh candidate)", _diff("", a.code or "", "empty", f"attempt {a.n}")
        views.append(AttemptView(a, max(0.0, a.created - run.created), best, against, diff))
        by_n[a.n] = a
    return views


def load_run(store: Store, ref: str) -> RunView:
    run = store.run_row(ref)
    if run is None:
        if ref == "last":
            raise StoreError(f"no runs in {store.path} yet; start one with `greenloop solve`")
        raise StoreError(f"no run {ref!r} in {store.path}; list them with `greenloop runs`")
    view = RunView(run, attempt_views(run, store.attempt_rows(run.id)))
    view.test_ids = test_ids(view.attempts)
    return view


def test_ids(attempts: list[AttemptView]) -> list[str]:
    seen: dict[str, None] = {}
    for a in attempts:
        for t in a.row.tests:
            seen.setdefault(str(t.get("test_id", "")), None)
    return list(seen)


@dataclass
class BenchView:
    bench: BenchRow
    problems: list[BenchProblemRow]

    @property
    def label(self) -> str:
        c = self.bench.config
        return f"{c.get('strategy', '?')} · {c.get('model', '?')} · tests {c.get('tests', '?')} ({self.bench.id})"

    @property
    def max_calls(self) -> int:
        return int(self.bench.config.get("max_calls", 0)) or max(
            (int(p.result.get("calls", 0)) for p in self.problems), default=1)

    @property
    def solved(self) -> int:
        return sum(p.solved for p in self.problems)

    def curve(self) -> tuple[list[int], list[float]]:
        """Share of the problems solved within N model calls, for N = 1 .. max_calls."""
        calls = [int(p.result.get("calls_to_green") or 0) for p in self.problems if p.solved]
        xs = list(range(1, self.max_calls + 1))
        total = len(self.problems) or 1
        return xs, [round(100 * sum(1 for c in calls if c <= x) / total, 2) for x in xs]


def load_benches(store: Store, refs: list[str]) -> list[BenchView]:
    views = []
    for ref in refs:
        bench = store.bench_row(ref)
        if bench is None:
            where = f"in {store.path}; run one with `greenloop bench humaneval`"
            raise StoreError(f"no benches {where}" if ref == "last" else f"no bench {ref!r} {where}")
        views.append(BenchView(bench, store.bench_problem_rows(bench.id)))
    return views


def problem_table(benches: list[BenchView]) -> list[dict[str, Any]]:
    """One row per problem, one cell per bench: the problem's result there, with its run id."""
    names: dict[str, None] = {}
    for b in benches:
        for p in b.problems:
            names.setdefault(p.problem, None)
    cells = [{p.problem: p for p in b.problems} for b in benches]
    return [{"problem": name, "cells": [c.get(name) for c in cells]} for name in names]
