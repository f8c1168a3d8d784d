"""Running candidates against tests: the Executor seam, outcomes, and the sandboxed worker pool."""

from __future__ import annotations

from typing import Protocol

from greenloop.execute.outcome import ExecutorError, Limits, Outcome, TestResult, TestStatus
from greenloop.execute.pool import CollectionError, TestSuite, WorkerPool


class Executor(Protocol):
    """Runs one candidate module against the tests it was made for."""

    def expected_ids(self) -> list[str]: ...

    def run(self, code: str) -> Outcome: ...

    def close(self) -> None: ...


__all__ = [
    "CollectionError", "Executor", "ExecutorError", "Limits", "Outcome", "TestResult", "TestStatus",
    "TestSuite", "WorkerPool",
]
