"""What a `greenloop fix` run takes (`FixOptions`) and gives (`FixProgress` while it runs, `FixResult`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from greenloop.execute import Limits
from greenloop.loop.result import Progress, RunStatus
from greenloop.task import Budget


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass(frozen=True)
class FixOptions:
    files: tuple[str, ...] = ()  # repository-relative
    budget: Budget = field(default_factory=lambda: Budget(30, 900.0))
    limits: Limits = field(default_factory=lambda: Limits(timeout=120, cpu_seconds=120, memory_mb=4096,
                                                          max_processes=64, file_size_mb=64))
    seed: int = 0
    edit_format: Literal["auto", "diff", "whole"] = "auto"
    context_tokens: int | None = None
    commit: bool = False
    env: dict[str, str] = field(default_factory=dict)  # --env: the only variables the command sees
    allow: tuple[str, ...] = ()  # --allow globs: paths a fix may change beyond the default
    message: str = ""  # -m/--message: the task in words
    dry_run: bool = False
    confirm: Callable[[str], bool] | None = None  # asked with the verified diff before applying


@dataclass(frozen=True)
class FixProgress(Progress):
    context: tuple[str, ...] = ()  # the files the model was shown
    python: str = ""  # the interpreter running the tests


@dataclass
class FixResult:
    run_id: str
    status: RunStatus
    message: str
    repo: str
    command: str
    attempts: int = 0  # one per model reply (edit errors and duplicates included)
    model_calls: int = 0
    tests_passed: int = 0
    tests_total: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    diff: str = ""  # the best attempt's change, as a unified diff against the snapshot
    changed_files: list[str] = field(default_factory=list)
    applied: bool = False
    commit: str | None = None
    context_files: list[str] = field(default_factory=list)
    best_attempt: int | None = None
    python: str = ""  # the interpreter that ran the tests

    def to_json(self) -> dict[str, object]:
        keys = ("run_id", "status", "message", "repo", "command", "attempts", "model_calls", "tests_passed",
                "tests_total", "prompt_tokens", "completion_tokens", "changed_files", "applied", "commit",
                "context_files", "python")
        data: dict[str, object] = {k: getattr(self, k) for k in keys}
        data["status"] = self.status.value
        data["seconds"] = round(self.seconds, 3)
        data["best"] = f"greenloop show {self.run_id} --diff" if self.diff else None
        return data
