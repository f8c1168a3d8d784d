"""How a run went, as data: its ending (`RunStatus`), live `Progress`, and the final `Result`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class RunStatus(str, enum.Enum):
    GREEN = "green"
    EXHAUSTED = "exhausted"
    INTERRUPTED = "interrupted"
    ERROR = "error"


@dataclass(frozen=True)
class Progress:
    calls: int  # model calls so far
    max_calls: int
    best_passed: int
    total: int
    last_passed: int
    prompt_tokens: int
    completion_tokens: int
    elapsed: float
    cost: float = 0.0  # USD so far
    context: tuple[str, ...] = ()  # repo mode: the files the model was last shown
    python: str = ""  # repo mode: the interpreter running the tests


@dataclass
class Result:
    """How a run ended, for every mode. `best_code` is what the store keeps of the best attempt: a
    module's text (`solve`, `bench`) or a change's diff (`fix`, also as `diff`). The fields after
    `best_candidate` are repo mode's: where, what ran, and what happened to the user's tree."""

    run_id: str
    status: RunStatus
    message: str
    attempts: int = 0  # attempts recorded: model replies and local repairs (a baseline is attempt 0, not counted)
    model_calls: int = 0
    tests_passed: int = 0
    tests_total: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0  # summed over calls (parallel calls each count)
    exec_seconds: float = 0.0
    model_wall_seconds: float = 0.0  # wall time with at least one model call in flight
    repairs: int = 0  # candidates made without the model and executed
    repair_seconds: float = 0.0  # executing them
    cost: float = 0.0  # USD, from the model's price (0 for local models)
    retries: int = 0  # model requests retried (rate limits, server errors, timeouts)
    calls_to_green: int | None = None  # model calls spent when the green candidate was made
    green_kind: str = ""  # "model" | "repair"
    best_code: str | None = None
    best_attempt: int | None = None
    best_candidate: Any = None  # what the problem ran for the best attempt (repo mode: its `Change`)
    kind: str = "solve"  # "solve" | "fix" | "bench"
    repo: str = ""
    command: str = ""
    changed_files: list[str] = field(default_factory=list)
    applied: bool = False
    commit: str | None = None
    context_files: list[str] = field(default_factory=list)
    python: str = ""  # the interpreter that ran the tests (repo mode)

    @property
    def diff(self) -> str:
        """Repo mode: the best attempt's change as a unified diff against the snapshot ("" for none)."""
        return (self.best_code or "") if self.kind == "fix" else ""

    def to_json(self, target: str | None = None) -> dict[str, object]:
        data: dict[str, object] = {
            "run_id": self.run_id, "status": self.status.value, "message": self.message, "attempts": self.attempts,
            "model_calls": self.model_calls, "tests_passed": self.tests_passed, "tests_total": self.tests_total,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "cost": round(self.cost, 6), "retries": self.retries, "repairs": self.repairs,
            "calls_to_green": self.calls_to_green, "green_kind": self.green_kind or None,
            "seconds": round(self.seconds, 3),
        }
        if self.kind == "fix":
            data.update(repo=self.repo, command=self.command, changed_files=self.changed_files, applied=self.applied,
                        commit=self.commit, context_files=self.context_files, python=self.python,
                        best=f"greenloop show {self.run_id} --diff" if self.diff else None)
        else:
            data["target"] = target
        return data


def covered(spans: list[tuple[float, float]]) -> float:
    """Seconds during which at least one of the (start, end) spans was open: calls made in parallel
    count once (`Result.model_wall_seconds`)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total
