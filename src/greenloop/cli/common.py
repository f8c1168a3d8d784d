"""What the commands that run a loop (`solve`, `fix`) share: the error line and the progress line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Protocol


class LoopProgress(Protocol):
    @property
    def iteration(self) -> int: ...
    @property
    def max_iterations(self) -> int: ...
    @property
    def best_passed(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def last_passed(self) -> int: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def elapsed(self) -> float: ...


def fail(args: argparse.Namespace, message: str, code: int = 2) -> int:
    """One `greenloop: ...` line on stderr (and the JSON object with --json); returns the exit code."""
    if getattr(args, "json", False):
        print(json.dumps({"status": "error", "message": message}))
    print(f"greenloop: {message}", file=sys.stderr)
    return code


def progress_line(p: LoopProgress) -> str:
    return (
        f"iteration {p.iteration}/{p.max_iterations} · best {p.best_passed}/{p.total} tests · "
        f"last {p.last_passed}/{p.total} · {p.prompt_tokens + p.completion_tokens:,} tokens · {p.elapsed:.1f}s"
    )
