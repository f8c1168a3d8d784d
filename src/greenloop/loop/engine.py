"""The engine: owns budgets, stopping, recording and the final verification of green.

It depends only on the seams: a `Model`, an `Executor`, a `Strategy`, the `Store`, and a
`verify` callable that re-runs a candidate in a fresh sandbox. How a run ended is data
(`RunStatus`), never an exception that escapes.
"""

from __future__ import annotations

import ast
import enum
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from greenloop.execute import Executor, Outcome
from greenloop.loop.extract import extract_code, normalise
from greenloop.loop.feedback import render_feedback
from greenloop.loop.strategies import Attempt, Strategy, best_attempt
from greenloop.models import Model, ModelError, ScriptExhausted
from greenloop.store import AttemptRecord, Store
from greenloop.stub import imported_names
from greenloop.task import Budget, Task

# The closing fence of the code block: what follows it is prose we would pay for and discard.
STOP = ("\n```\n",)
NO_CODE_FEEDBACK = "Your reply contained no Python code. Reply with the complete module in one ```python block."


class RunStatus(str, enum.Enum):
    GREEN = "green"
    EXHAUSTED = "exhausted"
    INTERRUPTED = "interrupted"
    ERROR = "error"


@dataclass(frozen=True)
class Progress:
    iteration: int
    max_iterations: int
    best_passed: int
    total: int
    last_passed: int
    prompt_tokens: int
    completion_tokens: int
    elapsed: float


@dataclass
class Result:
    run_id: str
    status: RunStatus
    message: str
    iterations: int = 0
    model_calls: int = 0
    tests_passed: int = 0
    tests_total: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    best_code: str | None = None
    best_attempt: int | None = None

    def to_json(self, target: str) -> dict[str, object]:
        return {
            "run_id": self.run_id, "status": self.status.value, "iterations": self.iterations,
            "model_calls": self.model_calls, "tests_passed": self.tests_passed, "tests_total": self.tests_total,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 3), "target": target, "message": self.message,
        }


class Engine:
    def __init__(self, task: Task, model: Model, executor: Executor, store: Store, strategy: Strategy,
                 budget: Budget, *, verify: Callable[[str], Outcome] | None = None,
                 on_progress: Callable[[Progress], None] | None = None, seed: int = 0,
                 max_tokens: int = 640) -> None:
        self.task, self.model, self.executor, self.store = task, model, executor, store
        self.strategy, self.budget, self.verify = strategy, budget, verify
        self.on_progress = on_progress
        self.seed = seed
        self.max_tokens = max_tokens
        self.required = imported_names(ast.parse(task.test_source), task.target_module)[0]

    def run(self) -> Result:
        run_id = self.store.start_run(
            kind="solve", tests_path=str(self.task.tests_path), target=str(self.task.target_path),
            spec=self.task.spec, model=self.model.name, strategy=self.strategy.name, budget=asdict(self.budget),
        )
        result = Result(run_id, RunStatus.EXHAUSTED, "")
        started = time.monotonic()
        history: list[Attempt] = []
        try:
            result.tests_total = len(self.executor.expected_ids())
            result.status, result.message = self._loop(result, history, started)
        except KeyboardInterrupt:
            result.status, result.message = RunStatus.INTERRUPTED, "interrupted by the user"
        except ModelError as exc:
            result.status, result.message = RunStatus.ERROR, str(exc)
        finally:
            result.seconds = time.monotonic() - started
            best = best_attempt(history)
            if best is not None and best.outcome is not None:
                result.best_code, result.best_attempt = best.code, best.record_id
                result.tests_passed = best.outcome.passed
                result.tests_total = max(result.tests_total, best.outcome.total)
            self.store.update_run(
                run_id, status=result.status.value, message=result.message, iterations=result.iterations,
                model_calls=result.model_calls, tests_passed=result.tests_passed, tests_total=result.tests_total,
                prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                seconds=result.seconds, model_seconds=result.model_seconds, best_attempt=result.best_attempt,
                finished=time.time(),
            )
        return result

    def _loop(self, result: Result, history: list[Attempt], started: float) -> tuple[RunStatus, str]:
        seen: dict[str, Outcome] = {}
        while True:
            if result.iterations >= self.budget.max_iterations:
                return RunStatus.EXHAUSTED, f"no green candidate after {result.iterations} iterations"
            if time.monotonic() - started >= self.budget.max_seconds:
                return RunStatus.EXHAUSTED, f"no green candidate within {self.budget.max_seconds:g}s"
            proposal = self.strategy.next(self.task, self.model.prompt_style, history)
            try:
                completion = self.model.complete(
                    proposal.messages, temperature=proposal.temperature, max_tokens=self.max_tokens,
                    seed=self.seed + result.iterations, stop=STOP,
                )
            except ScriptExhausted as exc:
                return RunStatus.EXHAUSTED, str(exc)
            result.iterations += 1
            result.model_calls += 1
            result.prompt_tokens += completion.usage.prompt_tokens
            result.completion_tokens += completion.usage.completion_tokens
            result.model_seconds += completion.usage.seconds
            code = extract_code(completion.text, self.required, self.task.stub)
            outcome: Outcome | None = None
            kind, exec_seconds = "model", 0.0
            if code is None:
                feedback = NO_CODE_FEEDBACK
            else:
                key = normalise(code)
                if key in seen:
                    outcome, kind = seen[key], "duplicate"
                else:
                    before = time.monotonic()
                    outcome = self.executor.run(code)
                    exec_seconds = time.monotonic() - before
                    if outcome.infrastructure:
                        return RunStatus.ERROR, f"the sandbox failed: {outcome.problem}"
                    seen[key] = outcome
                feedback = "" if outcome.green else render_feedback(outcome)
            parent = proposal.parent.n if proposal.parent else None
            record_id = self.store.add_attempt(result.run_id, AttemptRecord(
                n=result.iterations, kind=kind, messages=proposal.messages, response=completion.text, code=code,
                outcome=outcome.to_dict() if outcome else None, passed=outcome.passed if outcome else 0,
                total=outcome.total if outcome else 0, green=bool(outcome and outcome.green), feedback=feedback,
                prompt_tokens=completion.usage.prompt_tokens, completion_tokens=completion.usage.completion_tokens,
                model_seconds=completion.usage.seconds, exec_seconds=exec_seconds, parent=parent,
            ))
            history.append(Attempt(result.iterations, code, outcome, feedback, parent, record_id))
            self._report(result, history, started)
            if outcome is not None and outcome.green and code is not None:
                if self.verify is not None:
                    check = self.verify(code)
                    if not check.green:
                        return RunStatus.ERROR, (
                            "a candidate passed in the warm sandbox but failed the clean re-run: "
                            + (check.problem or render_feedback(check))
                        )
                return RunStatus.GREEN, f"green after {result.iterations} iterations"

    def _report(self, result: Result, history: list[Attempt], started: float) -> None:
        if self.on_progress is None:
            return
        best = best_attempt(history)
        last = history[-1]
        self.on_progress(Progress(
            iteration=result.iterations, max_iterations=self.budget.max_iterations,
            best_passed=max(best.passed, 0) if best else 0, total=result.tests_total,
            last_passed=max(last.passed, 0), prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens, elapsed=time.monotonic() - started,
        ))
