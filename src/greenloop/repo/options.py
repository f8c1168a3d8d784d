"""What a `greenloop fix` run takes (`FixOptions`); it reports the `Progress` and `Result` of every mode."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from greenloop.execute import Limits
from greenloop.loop.result import Progress, Result
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
    workers: int = 1  # candidates run at once, each in its own copy of the snapshot


# One Progress and one Result for every mode (loop/result.py); these names stay for code that used them.
FixProgress = Progress
FixResult = Result
