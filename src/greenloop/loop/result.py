"""How a run went, as data: its ending (`RunStatus`), live `Progress`, and the final `Result`."""

from __future__ import annotations

import enum
from dataclasses import dataclass


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


@dataclass
class Result:
    run_id: str
    status: RunStatus
    message: str
    attempts: int = 0  # attempts recorded: model replies and local repairs
    model_calls: int = 0
    tests_passed: int = 0
    tests_total: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    exec_seconds: float = 0.0
    repairs: int = 0  # candidates made without the model and executed
    repair_seconds: float = 0.0  # executing them
    cost: float = 0.0  # USD, from the model's price (0 for local models)
    retries: int = 0  # model requests retried (rate limits, server errors, timeouts)
    calls_to_green: int | None = None  # model calls spent when the green candidate was made
    green_kind: str = ""  # "model" | "repair"
    best_code: str | None = None
    best_attempt: int | None = None

    def to_json(self, target: str) -> dict[str, object]:
        return {
            "run_id": self.run_id, "status": self.status.value, "attempts": self.attempts,
            "model_calls": self.model_calls, "tests_passed": self.tests_passed, "tests_total": self.tests_total,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "cost": round(self.cost, 6), "retries": self.retries, "seconds": round(self.seconds, 3), "target": target, "message": self.message,
        }
