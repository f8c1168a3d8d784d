"""Typed results of running one candidate against the tests.

An `Outcome` is what the loop learns from an execution: every expected test with a status,
plus whether the run itself was sound. `green` is derived, never stored, so nothing can set it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from greenloop.errors import SandboxFailure


class TestStatus(str, enum.Enum):
    __test__ = False  # not a pytest test class, despite the name
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # setup/collection error or an exception other than a failed assertion
    TIMEOUT = "timeout"
    NOT_RUN = "not-run"
    SKIPPED = "skipped"  # only by a skip/skipif mark in the test file


@dataclass(frozen=True)
class TestResult:
    __test__ = False
    test_id: str
    status: TestStatus
    message: str = ""
    traceback: str = ""
    output: str = ""
    duration: float = 0.0
    expression: str = ""  # the compared expression, e.g. "slugify('A B')"
    actual: str = ""
    expected: str = ""
    locals: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TestResult:
        d = dict(d)
        d["status"] = TestStatus(d["status"])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Outcome:
    """What happened when one candidate ran.

    `problem` is set when the run as a whole is unsound (the runner died before reporting, a forged
    record, collection failed); `infrastructure` marks problems of the sandbox, not of the candidate.
    `judge` says who formed the verdict: `split` (the tests ran in a process that never ran the
    candidate's code) or `shared` (candidate and tests in one process; `judge_reason` says why).
    """

    tests: tuple[TestResult, ...]
    seconds: float = 0.0
    problem: str = ""
    infrastructure: bool = False
    output: str = ""
    judge: str = ""
    judge_reason: str = ""

    @property
    def passed(self) -> int:
        return sum(t.status is TestStatus.PASSED for t in self.tests)

    @property
    def total(self) -> int:
        return len(self.tests)

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.tests else 0.0

    @property
    def green(self) -> bool:
        # No observed passing test means no evidence: never green.
        skipped = sum(t.status is TestStatus.SKIPPED for t in self.tests)
        return not self.problem and self.passed > 0 and self.passed + skipped == self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "tests": [t.to_dict() for t in self.tests],
            "seconds": self.seconds,
            "problem": self.problem,
            "infrastructure": self.infrastructure,
            "output": self.output,
            "judge": self.judge,
            "judge_reason": self.judge_reason,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outcome:
        return cls(
            tests=tuple(TestResult.from_dict(t) for t in d.get("tests", [])),
            seconds=float(d.get("seconds", 0.0)),
            problem=str(d.get("problem", "")),
            infrastructure=bool(d.get("infrastructure", False)),
            output=str(d.get("output", "")),
            judge=str(d.get("judge", "")),
            judge_reason=str(d.get("judge_reason", "")),
        )


@dataclass(frozen=True)
class Limits:
    """Per-candidate resource limits, enforced outside the candidate's reach."""

    timeout: float = 10.0  # wall clock, seconds, for the whole candidate run
    cpu_seconds: int = 10
    memory_mb: int = 1024  # whole process tree
    max_processes: int = 32
    file_size_mb: int = 16


class ExecutorError(SandboxFailure):
    """The sandbox itself failed (could not start, died): not the candidate's fault."""
