"""The store's typed rows: what the engine writes (`AttemptRecord`) and what reads return (runs,
attempts, benches, bench problems as dataclasses, never raw dicts)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class AttemptRecord:
    n: int
    kind: str  # "baseline" | "model" | "duplicate" | "repair" | "request" | "edit-error" | "screened" | "error"
    messages: list[dict[str, str]]
    response: str
    code: str | None
    outcome: dict[str, Any] | None
    passed: int
    total: int
    green: bool
    feedback: str
    prompt_tokens: int
    completion_tokens: int
    model_seconds: float
    exec_seconds: float
    parent: int | None = None
    cost: float = 0.0  # USD, from the configured prices
    judge: str | None = None  # "split" | "shared": which judge formed the verdict
    retries: int = 0  # requests the model client retried before this reply


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


@dataclass(frozen=True)
class RunRow:
    id: str
    created: float
    kind: str
    tests_path: str | None
    target: str | None
    spec: str | None
    model: str
    strategy: str
    budget: dict[str, Any]
    status: str
    message: str
    attempts: int
    model_calls: int
    tests_passed: int
    tests_total: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    model_seconds: float
    best_attempt: int | None
    finished: float | None
    cost: float = 0.0
    python: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRow:
        d = dict(d)
        d["budget"] = json.loads(d["budget"]) if isinstance(d.get("budget"), str) else d.get("budget") or {}
        return cls(**_known(cls, d))


@dataclass(frozen=True)
class AttemptRow:
    id: int
    run_id: str
    n: int
    parent: int | None  # the parent attempt's n
    kind: str
    created: float
    messages: list[dict[str, str]]
    response: str
    code: str | None
    outcome: dict[str, Any] | None
    passed: int
    total: int
    green: bool
    feedback: str
    prompt_tokens: int
    completion_tokens: int
    model_seconds: float
    exec_seconds: float
    cost: float = 0.0
    judge: str | None = None
    retries: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttemptRow:
        d = dict(d)
        if isinstance(d.get("messages"), str):
            d["messages"] = json.loads(d["messages"])
        if isinstance(d.get("outcome"), str):
            d["outcome"] = json.loads(d["outcome"])
        d["green"] = bool(d["green"])
        if not d.get("judge") and d.get("outcome"):
            d["judge"] = d["outcome"].get("judge")  # outcomes carry it before the column is written
        return cls(**_known(cls, d))

    @property
    def tests(self) -> list[dict[str, Any]]:
        """Per-test results (`test_id`, `status`, `message`, ...), empty when nothing ran."""
        return list((self.outcome or {}).get("tests", []))


@dataclass(frozen=True)
class BenchRow:
    id: str
    created: float
    benchmark: str
    key: str
    config: dict[str, Any]
    seconds: float

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchRow:
        d = dict(d)
        d["config"] = json.loads(d["config"]) if isinstance(d.get("config"), str) else d.get("config") or {}
        return cls(**_known(cls, d))


@dataclass(frozen=True)
class BenchProblemRow:
    bench_id: str
    problem: str
    run_id: str | None
    status: str
    solved: bool
    result: dict[str, Any]  # the bench runner's ProblemResult as a dict
    created: float

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchProblemRow:
        d = dict(d)
        d["solved"] = bool(d["solved"])
        d["result"] = json.loads(d["result"]) if isinstance(d.get("result"), str) else d.get("result") or {}
        return cls(**_known(cls, d))
