"""Run a strategy over benchmark problems: one engine run per problem, recorded and resumable.

Each problem's run is an ordinary run in the store (`greenloop show RUN_ID` shows its attempts);
`bench_problems` ties it to the bench, keyed by the configuration, so re-running the same bench
skips problems already finished. With `--tests visible` the loop sees the docstring's examples
and the final verdict comes from the hidden tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from greenloop.benchmarks.registry import BenchProblem
from greenloop.execute import Limits
from greenloop.loop.engine import Engine, RunStatus
from greenloop.loop.recording import Recorder
from greenloop.loop.solving import SolveProblem
from greenloop.loop.strategies import STRATEGIES, Strategy
from greenloop.models import Capabilities, Completion, Message, Model, PromptStyle, Usage
from greenloop.solver import fresh_runner, prepare_pool
from greenloop.store import Store
from greenloop.task import Budget, TaskError

TESTS_MODES = ("full", "visible")
# HumanEval's own harness allows 3 s per problem; a candidate that loops forever should not cost 10.
BENCH_LIMITS = Limits(timeout=3.0, cpu_seconds=3)


@dataclass(frozen=True)
class BenchConfig:
    benchmark: str = "humaneval"
    model: str = "local"
    strategy: str = "tree"
    max_calls: int = 50
    tests: str = "full"
    seed: int = 0
    max_seconds: float = 900.0  # per problem
    workers: int = 1  # sandbox workers per problem
    jobs: int = 1  # problems in flight at once
    # The strategy's parameters (`--set width=4`): part of the key, so a resumed bench never reuses
    # results of the same strategy run with other settings.
    strategy_params: tuple[tuple[str, str], ...] = ()
    # Model calls in flight (None: what the model declares). Part of the key when set: strategies
    # fill wider rounds, so results differ.
    parallel: int | None = None

    def __post_init__(self) -> None:
        self.make_strategy()  # an unknown strategy or parameter is bad input before any problem runs
        if self.tests not in TESTS_MODES:
            raise TaskError(f"--tests must be visible or full, not {self.tests!r}")
        if self.max_calls < 1:
            raise TaskError("--max-calls must be at least 1")
        if self.workers < 1 or self.jobs < 1:
            raise TaskError("--workers and --jobs must be at least 1")
        if self.parallel is not None and self.parallel < 1:
            raise TaskError("--parallel must be at least 1")

    def make_strategy(self) -> Strategy:
        return STRATEGIES.create(self.strategy, dict(self.strategy_params))

    @property
    def key(self) -> str:
        """What decides a problem's result: runs with the same key are the same bench."""
        fields = {k: v for k, v in asdict(self).items() if k not in ("workers", "jobs")}
        if not self.strategy_params:
            del fields["strategy_params"]  # the key of benches recorded before strategies had parameters
        if self.parallel is None:
            del fields["parallel"]  # likewise before --parallel
        return json.dumps(fields, sort_keys=True)


@dataclass
class ProblemResult:
    problem: str
    status: str  # the loop's ending: green | exhausted | error
    solved: bool  # the final verdict (hidden tests for --tests visible)
    loop_green: bool
    run_id: str
    calls: int
    calls_to_green: int | None
    green_kind: str
    repairs: int
    tests_passed: int
    tests_total: int
    hidden_passed: int
    hidden_total: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    model_seconds: float
    exec_seconds: float
    repair_seconds: float = 0.0
    message: str = ""
    cost: float = 0.0  # USD
    model_wall_seconds: float = 0.0  # wall time with a model call in flight (0: recorded before it was kept)


@dataclass
class BenchRun:
    bench_id: str
    config: BenchConfig
    results: list[ProblemResult] = field(default_factory=list)
    seconds: float = 0.0  # wall time over every invocation of this bench
    skipped: int = 0  # problems found finished by an earlier invocation
    interrupted: bool = False


class ReplayModel:
    """`--model canonical`: replies with the problem's reference solution, every time."""

    prompt_style: PromptStyle = "examples"
    capabilities = Capabilities(max_parallel=1, prompt_style="examples")

    def __init__(self, code: str) -> None:
        self.name = "canonical"
        self.reply = f"```python\n{code}\n```\n"

    def check(self) -> None:
        pass

    def complete(self, messages: list[Message], *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Completion:
        return Completion(self.reply, Usage())


def solve_problem(problem: BenchProblem, config: BenchConfig, model: Model, store: Recorder,
                  model_parallel: int | None = None) -> ProblemResult:
    """One problem under one configuration: its records go to `store` (any Recorder: the run store, or
    a MemoryRecorder whose runs and attempts can be shipped from another process), its verdict is returned."""
    task = problem.task(config.tests)
    pool = prepare_pool(task, BENCH_LIMITS, config.workers)
    try:
        engine = Engine(SolveProblem(task, pool, fresh_runner(task, BENCH_LIMITS), kind="bench"), model, store,
                        config.make_strategy(), Budget(config.max_calls, config.max_seconds), seed=config.seed,
                        workers=config.workers, model_parallel=model_parallel)
        result = engine.run()
    finally:
        pool.close()
    green = result.status is RunStatus.GREEN
    hidden_passed, hidden_total = result.tests_passed, result.tests_total
    if config.tests == "visible":
        hidden_passed, hidden_total = 0, 0
        if result.best_code is not None and result.status is not RunStatus.INTERRUPTED:
            hidden = fresh_runner(problem.task("full"), BENCH_LIMITS)(result.best_code)
            hidden_passed, hidden_total = hidden.passed, hidden.total
    solved = hidden_total > 0 and hidden_passed == hidden_total and (green or config.tests == "visible")
    return ProblemResult(
        problem.task_id, result.status.value, solved, green, result.run_id, result.model_calls,
        result.calls_to_green, result.green_kind, result.repairs, result.tests_passed, result.tests_total,
        hidden_passed, hidden_total, result.prompt_tokens, result.completion_tokens, result.seconds,
        result.model_seconds, result.exec_seconds, result.repair_seconds, result.message, result.cost,
        result.model_wall_seconds,
    )


def _bench_id(store: Store, config: BenchConfig, fresh: bool) -> str:
    found = None if fresh else store.bench_by_key(config.key)
    return found or store.start_bench(config.benchmark, config.key, asdict(config))


def run_bench(config: BenchConfig, problems: list[BenchProblem], *, db: str | Path | None = None,
              model: Model | None = None, fresh: bool = False,
              on_result: Callable[[ProblemResult], None] | None = None,
              on_start: Callable[[int], None] | None = None) -> BenchRun:
    """Run (or resume) the bench; `model` is loaded by the caller unless `config.model` is canonical.
    `on_start` hears how many problems are left to run (fewer than asked when the bench resumes)."""
    store = Store(db)
    bench_id = _bench_id(store, config, fresh)
    run = BenchRun(bench_id, config)
    run.seconds = store.bench_seconds(bench_id)
    done = {problem: ProblemResult(**result) for problem, result in store.bench_results(bench_id).items()}
    todo = [p for p in problems if p.task_id not in done]
    run.skipped = len(problems) - len(todo)
    if on_start is not None:
        on_start(len(todo))
    lock = threading.Lock()
    started, before = time.monotonic(), run.seconds
    stop = threading.Event()

    def one(problem: BenchProblem) -> None:
        if stop.is_set():
            return
        own = Store(store.path)  # one connection per thread
        try:
            the_model = ReplayModel(problem.reference) if config.model == "canonical" else model
            assert the_model is not None, "run_bench needs a model unless config.model is canonical"
            result = solve_problem(problem, config, the_model, own, config.parallel)
            if result.status == RunStatus.INTERRUPTED.value:
                stop.set()
                return
            with lock:
                elapsed = before + time.monotonic() - started
                if result.status != RunStatus.ERROR.value:
                    own.record_bench_problem(bench_id, problem.task_id, result.run_id, result.status, result.solved,
                                             asdict(result))
                own.set_bench_seconds(bench_id, elapsed)
                done[problem.task_id] = result
                if on_result is not None:
                    on_result(result)
        finally:
            own.close()

    try:
        if config.jobs == 1:
            for problem in todo:
                one(problem)
                if stop.is_set():
                    break
        else:
            with ThreadPoolExecutor(config.jobs, "greenloop-bench") as jobs:
                for future in [jobs.submit(one, p) for p in todo]:
                    future.result()
    except KeyboardInterrupt:
        stop.set()
    finally:
        run.seconds = before + time.monotonic() - started
        store.set_bench_seconds(bench_id, run.seconds)
        store.close()
    run.interrupted = stop.is_set()
    run.results = [done[p.task_id] for p in problems if p.task_id in done]
    return run


def summary(run: BenchRun) -> dict[str, Any]:
    """The `--json` object: totals, the calls curve, timing shares, and one row per problem."""
    rows, config = run.results, run.config
    solved = [r for r in rows if r.solved]
    to_green = sorted(r.calls_to_green for r in rows if r.loop_green and r.calls_to_green is not None)
    model_seconds = sum(r.model_seconds for r in rows)
    # The share of the wall time spent waiting on the model: calls in parallel count once.
    model_wall = sum(r.model_wall_seconds or r.model_seconds for r in rows)
    problem_seconds = sum(r.seconds for r in rows)
    steps = [k for k in (1, 2, 3, 5, 10, 20, 30, 50, 100, 200) if k < config.max_calls] + [config.max_calls]
    out: dict[str, Any] = {
        "benchmark": config.benchmark, "strategy": config.strategy, "model": config.model, "tests": config.tests,
        "max_calls": config.max_calls, "problems": len(rows), "solved": len(solved),
        "pass_rate": round(len(solved) / len(rows), 4) if rows else 0.0,
        "model_calls": sum(r.calls for r in rows),
        "median_calls_to_green": _median(to_green),
        "curve": {str(k): round(sum(1 for r in solved if (r.calls_to_green or 0) <= k) / len(rows), 4) if rows else 0.0
                  for k in steps},
        "repair_wins": sum(1 for r in solved if r.green_kind == "repair"),
        "repairs_run": sum(r.repairs for r in rows),
        "prompt_tokens": sum(r.prompt_tokens for r in rows),
        "completion_tokens": sum(r.completion_tokens for r in rows),
        "cost": round(sum(r.cost for r in rows), 6),
        "seconds": round(run.seconds, 2), "model_seconds": round(model_seconds, 2),
        "exec_seconds": round(sum(r.exec_seconds for r in rows), 2),
        "repair_seconds": round(sum(r.repair_seconds for r in rows), 2),
        "model_wall_seconds": round(model_wall, 2),
        # Of the problems' own run time (with --jobs N they overlap, so not of the bench's wall time).
        "model_share": round(model_wall / problem_seconds, 4) if problem_seconds else 0.0,
        "bench_id": run.bench_id, "resumed": run.skipped,
    }
    if config.tests == "visible":
        greens = [r for r in rows if r.loop_green]
        out["loop_green"] = len(greens)
        out["loop_pass_rate"] = round(len(greens) / len(rows), 4) if rows else 0.0
        out["hidden_agreement"] = round(sum(r.solved for r in greens) / len(greens), 4) if greens else None
    out["per_problem"] = [
        {"id": r.problem, "solved": r.solved, "calls": r.calls, "calls_to_green": r.calls_to_green,
         "green_kind": r.green_kind, "tests": f"{r.hidden_passed}/{r.hidden_total}", "seconds": round(r.seconds, 2),
         "run_id": r.run_id} for r in rows
    ]
    return out


def _median(values: list[int]) -> float | None:
    if not values:
        return None
    mid = len(values) // 2
    return float(values[mid]) if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
