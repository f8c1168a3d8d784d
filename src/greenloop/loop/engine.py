"""The engine: owns budgets, stopping, recording, concurrency and the final verification of green.

One engine for every mode. It depends only on the seams: a `Problem` (what a candidate is, how to
ask for one, run it and verify it: loop/problem.py), a `Model`, a `Strategy` and a `Recorder`.
When the problem has code to start from (repo mode), that is attempt 0, the `baseline`, and the
run is green at once if it already passes. A strategy proposes a round (at
least `parallel` model requests wide, when it takes a `width`); the engine keeps up to `parallel`
model calls in flight (by default what the model declares it serves at once) and runs each
candidate on one of `workers` executor threads as soon as it arrives, so executions overlap the
next calls. Budgets: model calls, seconds and dollars. How a run ended is data (`RunStatus`),
never an exception that escapes; a model call that failed for good is recorded as an attempt.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from typing import Any

from greenloop.execute import Outcome
from greenloop.loop.problem import Problem
from greenloop.loop.recording import Recorder
from greenloop.loop.result import Progress, Result, RunStatus, covered
from greenloop.loop.strategies import Attempt, Proposal, Strategy, best_attempt
from greenloop.models import Completion, Model, ModelCallFailed, ModelError, ScriptExhausted, Usage, capabilities_of
from greenloop.store import AttemptRecord
from greenloop.task import Budget

Ending = tuple[RunStatus, str]
__all__ = ["Engine", "Progress", "Result", "RunStatus"]


@dataclass
class _Job:
    """A candidate on its way through a round: the proposal, the reply (if any), the code."""

    proposal: Proposal
    completion: Completion
    candidate: Any  # None: the reply gave nothing to run (`kind` and `feedback` say why)
    calls: int  # model calls spent when it was made
    key: str = ""
    outcome: Outcome | None = None
    exec_seconds: float = 0.0
    kind: str = "model"
    feedback: str = ""
    attempt: Attempt | None = None  # as recorded


class Engine:
    def __init__(self, problem: Problem, model: Model, store: Recorder, strategy: Strategy, budget: Budget, *,
                 on_progress: Callable[[Progress], None] | None = None, seed: int = 0,
                 max_tokens: int | None = None, workers: int = 1, model_parallel: int | None = None) -> None:
        self.problem, self.model, self.store = problem, model, store
        self.strategy, self.budget = strategy, budget
        self.on_progress = on_progress
        self.seed, self.max_tokens = seed, max_tokens or problem.max_tokens
        self.workers = max(1, workers)
        self.model_parallel = max(1, model_parallel or capabilities_of(model).max_parallel)
        try:
            self._takes_width = "width" in inspect.signature(strategy.propose).parameters
        except (TypeError, ValueError):
            self._takes_width = False
        self._callers: set[int] = set()  # threads that called the model for this run
        self._green: Attempt | None = None  # the attempt the clean re-run confirmed
        self._best: Attempt | None = None  # the best attempt tried so far (the baseline is not tried)
        self._calls_spans: list[tuple[float, float]] = []  # (start, end) of each model call, monotonic

    def run(self) -> Result:
        problem = self.problem
        run_id = self.store.start_run(
            kind=problem.kind, model=self.model.name, strategy=self.strategy.name,
            budget={**asdict(self.budget), "parallel": self.model_parallel}, **problem.run_fields(),
        )
        result = Result(run_id, RunStatus.EXHAUSTED, "", kind=problem.kind, python=problem.python)
        self.started = time.monotonic()
        history: list[Attempt] = []
        calls = ThreadPoolExecutor(self.model_parallel, "greenloop-model")
        runs = ThreadPoolExecutor(self.workers, "greenloop-exec")
        try:
            result.tests_total = len(problem.expected_ids())
            result.status, result.message = self._start(result, history) or self._loop(result, history, calls, runs)
        except KeyboardInterrupt:
            result.status, result.message = RunStatus.INTERRUPTED, "interrupted by the user"
        except ModelError as exc:
            result.status, result.message = RunStatus.ERROR, str(exc)
        except Exception as exc:  # a bug of ours, or of a plugin: recorded as such, and let through
            result.status, result.message = RunStatus.ERROR, f"greenloop failed: {exc!r}"
            raise
        finally:
            calls.shutdown(wait=True, cancel_futures=True)
            runs.shutdown(wait=True, cancel_futures=True)
            result.seconds = time.monotonic() - self.started
            result.model_wall_seconds = covered(self._calls_spans)
            result.context_files = list(problem.context)
            # A green run's result is the attempt the clean re-run confirmed, whatever finished after it;
            # otherwise the best of what was tried (the baseline is no change: nothing to show or
            # apply), else the baseline.
            green = self._green if result.status is RunStatus.GREEN else None
            best = green or self._best or best_attempt(history)
            if best is not None and best.outcome is not None:
                if best.kind != "baseline":
                    result.best_code, result.best_attempt, result.best_candidate = best.code, best.record_id, best.candidate
                result.tests_passed = best.outcome.passed
                # A green run knows its skipped tests now: they are not counted.
                result.tests_total = best.outcome.total if best.outcome.green else max(result.tests_total, best.outcome.total)
            self.store.update_run(
                run_id, status=result.status.value, message=result.message, attempts=result.attempts,
                model_calls=result.model_calls, tests_passed=result.tests_passed, tests_total=result.tests_total,
                prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                seconds=result.seconds, model_seconds=result.model_seconds, best_attempt=result.best_attempt,
                cost=result.cost, finished=time.time(),
            )
        return result

    def _out_of_budget(self, calls: int, cost: float) -> str:
        if calls >= self.budget.max_calls:
            return f"no green candidate after {_calls(calls)}"
        if time.monotonic() - self.started >= self.budget.max_seconds:
            return f"no green candidate within {self.budget.max_seconds:g}s"
        if self.budget.max_cost is not None and cost >= self.budget.max_cost:
            return f"no green candidate within ${self.budget.max_cost:g} (spent ${cost:.4f})"
        return ""

    def _start(self, result: Result, history: list[Attempt]) -> Ending | None:
        """Record the problem's baseline as attempt 0, if it has one; green already ends the run."""
        start = self.problem.baseline()
        if start is None:
            return None
        candidate, outcome = start
        job = _Job(Proposal([], 0.0, None, candidate), Completion("", Usage()), candidate, 0, outcome=outcome)
        self._record(job, "baseline", result, history)
        if outcome.green:
            return RunStatus.GREEN, "the test command already passes; nothing to change"
        return None

    def _propose(self, history: list[Attempt]) -> list[Proposal]:
        style = capabilities_of(self.model).prompt_style
        if self._takes_width:
            return self.strategy.propose(self.problem, style, history, width=self.model_parallel)  # type: ignore[call-arg]
        return self.strategy.propose(self.problem, style, history)

    def _loop(self, result: Result, history: list[Attempt], calls: ThreadPoolExecutor,
              runs: ThreadPoolExecutor) -> Ending:
        seen: dict[str, Outcome] = {}
        for a in history:  # a reply that undoes every edit is the baseline again
            if a.kind == "baseline" and a.outcome is not None:
                seen[self.problem.key(a.candidate)] = a.outcome
        while True:
            if why := self._out_of_budget(result.model_calls, result.cost):
                return RunStatus.EXHAUSTED, why
            proposals = self._propose(history)
            if not proposals:
                return RunStatus.EXHAUSTED, f"the {self.strategy.name} strategy stopped after {_calls(result.model_calls)}"
            ending = self._round(proposals, result, history, seen, calls, runs)
            if ending is not None:
                return ending

    def _round(self, proposals: list[Proposal], result: Result, history: list[Attempt], seen: dict[str, Outcome],
               calls: ThreadPoolExecutor, runs: ThreadPoolExecutor) -> Ending | None:
        return _Round(self, result, history, seen, calls, runs).run(proposals)

    def _stop_calls(self) -> None:
        """The run is over: a model that can (`cancel(threads)`, the local one) ends this run's calls in
        flight now with what they have, so that they are recorded without being waited for."""
        cancel = getattr(self.model, "cancel", None)
        if callable(cancel):
            cancel(frozenset(self._callers))

    def _complete(self, proposal: Proposal, seed: int) -> Completion:
        self._callers.add(threading.get_ident())
        started = time.monotonic()
        try:
            return self.model.complete(proposal.messages, temperature=proposal.temperature,
                                       max_tokens=self.max_tokens, seed=seed, stop=self.problem.stop)
        finally:
            self._calls_spans.append((started, time.monotonic()))

    def _execute(self, job: _Job) -> _Job:
        before = time.monotonic()
        job.outcome = self.problem.execute(job.candidate)
        job.exec_seconds = time.monotonic() - before
        return job

    def _confirm(self, job: _Job) -> bool | None:
        """The clean re-run of a candidate green in the warm run: True when it confirms the green; else
        the job takes the clean run's verdict (so the search goes on, and twins and duplicates get it
        too); None when the re-run itself could not run."""
        assert job.candidate is not None and job.outcome is not None
        check = self.problem.verify(job.candidate)
        if check.green:
            return True
        job.outcome = check
        if check.infrastructure:
            return None
        job.feedback = ("Passed in the warm run but failed the clean re-run (a fresh copy, a fresh sandbox):\n"
                        + (check.problem or self.problem.feedback(job.candidate, check)))
        return False

    def _verified(self, job: _Job, result: Result) -> Ending:
        """The run's ending, for a job whose green the clean re-run confirmed."""
        self._green = job.attempt
        result.calls_to_green = job.calls
        result.green_kind = "model" if job.proposal.needs_model else "repair"
        how = "by local repair " if result.green_kind == "repair" else ""
        return RunStatus.GREEN, f"green {how}after {_calls(job.calls)}"

    def _record(self, job: _Job, kind: str, result: Result, history: list[Attempt], feedback: str = "") -> None:
        """Append the attempt to the store and the history (with what its call cost)."""
        outcome, proposal, usage = job.outcome, job.proposal, job.completion.usage
        candidate = job.candidate
        feedback = feedback or job.feedback or ("" if candidate is None or outcome is None
                                                else self.problem.feedback(candidate, outcome))
        code = self.problem.stored(candidate) if candidate is not None else None
        n = 0 if kind == "baseline" else result.attempts + 1
        result.attempts = max(result.attempts, n)
        if kind == "repair":
            result.repairs += 1
            result.repair_seconds += job.exec_seconds
        parent = proposal.parent.n if proposal.parent else None
        record_id = self.store.add_attempt(result.run_id, AttemptRecord(
            n=n, kind=kind, messages=proposal.messages, response=job.completion.text, code=code,
            outcome=outcome.to_dict() if outcome else None, passed=outcome.passed if outcome else 0,
            total=outcome.total if outcome else 0, green=bool(outcome and outcome.green), feedback=feedback,
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            model_seconds=usage.seconds, exec_seconds=job.exec_seconds if kind != "duplicate" else 0.0, parent=parent,
            cost=usage.cost, judge=(outcome.judge or None) if outcome else None, retries=usage.retries,
        ))
        attempt = Attempt(n, code, outcome, feedback, parent, record_id, kind, candidate)
        job.attempt = attempt
        history.append(attempt)
        # The best so far: most tests passed, the first to get there (as `best_attempt`). Kept current
        # in the store, so that `show` finds it even after a kill -9.
        if kind != "baseline" and code is not None and (self._best is None or attempt.passed > self._best.passed):
            self._best = attempt
            self.store.update_run(result.run_id, best_attempt=record_id, tests_passed=attempt.passed)
        self._report(result, history)

    def _report(self, result: Result, history: list[Attempt]) -> None:
        if self.on_progress is None:
            return
        best = best_attempt(history)
        self.on_progress(Progress(
            calls=result.model_calls, max_calls=self.budget.max_calls,
            best_passed=max(best.passed, 0) if best else 0, total=result.tests_total,
            last_passed=max(history[-1].passed, 0), prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens, elapsed=time.monotonic() - self.started, cost=result.cost,
            context=tuple(self.problem.context), python=self.problem.python,
        ))


def _calls(n: int) -> str:
    return f"{n} model call{'' if n == 1 else 's'}"


class _Round:
    """One round of proposals: its model calls (up to the engine's width in flight), its executions
    (each distinct candidate once; twins wait for it), and how the round ended, if it ended the run."""

    def __init__(self, engine: Engine, result: Result, history: list[Attempt], seen: dict[str, Outcome],
                 calls: ThreadPoolExecutor, runs: ThreadPoolExecutor) -> None:
        self.engine, self.result, self.history, self.seen = engine, result, history, seen
        self.calls, self.runs = calls, runs
        self.pending: dict[Future[Any], _Job | Proposal] = {}
        self.running: dict[str, list[_Job]] = {}  # normalised code -> jobs waiting for its one execution
        self.ending: Ending | None = None

    def run(self, proposals: list[Proposal]) -> Ending | None:
        engine = self.engine
        asks = deque(p for p in proposals if p.needs_model)
        for p in proposals:
            if not p.needs_model:
                self._execute(_Job(p, Completion(p.note, Usage()), p.candidate, self.result.model_calls))
        while True:
            self._ask(asks)
            if not self.pending:
                return self.ending
            left = engine.budget.max_seconds - (time.monotonic() - engine.started)
            done, _ = wait(list(self.pending), timeout=max(left, 0.05) if self.ending is None else None,
                           return_when=FIRST_COMPLETED)
            if not done and self.ending is None:  # the time budget ran out with calls or runs in flight
                self._end((RunStatus.EXHAUSTED, f"no green candidate within {engine.budget.max_seconds:g}s"))
                self._cancel_queued()  # a round of repairs queued behind a slow test command waits no longer
            for future in done:
                item = self.pending.pop(future)
                if isinstance(item, Proposal):
                    self._replied(future, item)
                else:
                    self._executed(future)

    def _end(self, ending: Ending) -> None:
        self.ending = self.ending or ending
        self.engine._stop_calls()

    def _ask(self, asks: deque[Proposal]) -> None:
        """Keep up to the engine's width of model calls in flight, within the budgets."""
        engine, result = self.engine, self.result
        in_flight = sum(1 for v in self.pending.values() if isinstance(v, Proposal))
        while self.ending is None and asks and in_flight < engine.model_parallel \
                and not engine._out_of_budget(result.model_calls + in_flight, result.cost):
            proposal = asks.popleft()
            seed = engine.seed + result.model_calls + in_flight
            self.pending[self.calls.submit(engine._complete, proposal, seed)] = proposal
            in_flight += 1

    def _execute(self, job: _Job) -> None:
        """Run a candidate, unless the same code ran already (a duplicate) or is running (a twin)."""
        job.key = self.engine.problem.key(job.candidate)
        if job.key in self.seen:
            job.outcome = self.seen[job.key]
            self.engine._record(job, "duplicate", self.result, self.history)
        elif job.key in self.running:
            self.running[job.key].append(job)
        else:
            self.running[job.key] = [job]
            self.pending[self.runs.submit(self.engine._execute, job)] = job

    def _replied(self, future: Future[Any], proposal: Proposal) -> None:
        engine, result = self.engine, self.result
        try:
            completion: Completion = future.result()
        except ScriptExhausted as exc:
            self._end((RunStatus.EXHAUSTED, str(exc)))
            return
        except ModelCallFailed as exc:
            # The other calls in flight still finish and are recorded; then the run ends.
            engine._record(_Job(proposal, Completion("", Usage(retries=exc.retries)), None, result.model_calls),
                           "error", result, self.history, feedback=str(exc))
            result.retries += exc.retries
            self._end((RunStatus.ERROR, str(exc)))
            return
        usage = completion.usage
        result.model_calls += 1
        result.prompt_tokens += usage.prompt_tokens
        result.completion_tokens += usage.completion_tokens
        result.model_seconds += usage.seconds
        result.cost += usage.cost
        result.retries += usage.retries
        reply = engine.problem.parse(completion.text, proposal.parent)
        job = _Job(proposal, completion, reply.candidate, result.model_calls, kind=reply.kind, feedback=reply.feedback)
        if job.candidate is None:
            engine._record(job, reply.kind, result, self.history)
        else:
            self._execute(job)

    def _executed(self, future: Future[Any]) -> None:
        engine, result = self.engine, self.result
        job = future.result()  # an executor failure raises here
        assert isinstance(job, _Job) and job.outcome is not None
        if job.outcome.infrastructure:
            self._end((RunStatus.ERROR, f"the sandbox failed: {job.outcome.problem}"))
            return
        # A reply already in hand still counts when the script ran out behind it.
        confirmed: bool | None = False
        if job.outcome.green and job.candidate is not None and (self.ending is None
                                                                or self.ending[0] is RunStatus.EXHAUSTED):
            confirmed = engine._confirm(job)
            if confirmed is None:
                self._end((RunStatus.ERROR, f"the sandbox failed in the clean re-run: {job.outcome.problem}"))
                return
        self.seen[job.key] = job.outcome
        result.exec_seconds += job.exec_seconds
        first, *copies = self.running.pop(job.key)
        engine._record(first, first.kind if first.proposal.needs_model else "repair", result, self.history)
        for copy in copies:
            copy.outcome, copy.feedback = job.outcome, job.feedback
            engine._record(copy, "duplicate", result, self.history)
        if confirmed:
            engine._stop_calls()
            self.ending = engine._verified(first, result)
            self._cancel_queued()

    def _cancel_queued(self) -> None:
        """Drop the executions that have not started (those running finish and are recorded); a model
        reply among them was paid for, so it is recorded, as not run."""
        for future in [f for f, v in self.pending.items() if isinstance(v, _Job)]:
            if future.cancel():
                job = self.pending.pop(future)
                assert isinstance(job, _Job)
                for twin in self.running.pop(job.key, [job]):
                    if twin.proposal.needs_model:
                        twin.candidate = None
                        self.engine._record(twin, twin.kind, self.result, self.history,
                                            feedback="not run: the run ended before its turn")
