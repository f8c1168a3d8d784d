"""The Python API behind `greenloop solve`: wire a task, a model, the sandbox and the store together."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from greenloop.atomic import write_atomically
from greenloop.execute import CollectionError, ExecutorError, Limits, Outcome, TestSuite, WorkerPool
from greenloop.loop.engine import Engine, Progress, Result, RunStatus
from greenloop.loop.solving import SolveProblem
from greenloop.loop.strategies import STRATEGIES
from greenloop.models import Model, load_model
from greenloop.store import Store
from greenloop.task import Budget, Task, TaskError


def prepare_pool(task: Task, limits: Limits, workers: int = 1) -> WorkerPool:
    """A warm pool for the task's tests; raises TaskError when the tests cannot be collected."""
    suite = TestSuite(task.test_source, task.tests_path.name, task.target_module)
    pool = WorkerPool(suite, limits, size=workers)
    try:
        expected = pool.expected_ids()
    except CollectionError as exc:
        pool.close()
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise TaskError(f"the tests in {task.tests_path} cannot be collected: {first}") from None
    except BaseException:
        pool.close()
        raise
    if not expected:
        pool.close()
        raise TaskError(f"no tests were collected from {task.tests_path}; write test_* functions")
    return pool


def fresh_runner(task: Task, limits: Limits) -> Callable[[str], Outcome]:
    """The clean re-run that confirms a green: a fresh pool on pytest's full path (collection in
    the child), independent of the warm pool and its collect-once fast path."""

    def run(code: str) -> Outcome:
        suite = TestSuite(task.test_source, task.tests_path.name, task.target_module)
        with WorkerPool(suite, limits, fast=False) as fresh:
            return fresh.run(code)

    return run


def solve(
    tests: str | Path, target: str | Path, *, spec: str = "", spec_file: str | Path | None = None,
    model: str | Model = "local", base_url: str | None = None, budget: Budget | None = None,
    db: str | Path | None = None, strategy: str = "tree", strategy_params: Mapping[str, Any] | None = None,
    write_best: bool = False,
    limits: Limits | None = None, workers: int = 1, seed: int = 0,
    on_progress: Callable[[Progress], None] | None = None, parallel: int | None = None,
) -> Result:
    """Write `target` until the tests in `tests` pass. Raises TaskError / ModelError for bad input."""
    task = Task.from_files(tests, target, spec, spec_file)
    if parallel is not None and parallel < 1:
        raise TaskError("--parallel must be at least 1")
    the_strategy = STRATEGIES.create(strategy, strategy_params)
    the_model = load_model(model, base_url=base_url) if isinstance(model, str) else model
    the_model.check()
    limits = limits or Limits()
    store = Store(db)
    pool = prepare_pool(task, limits, workers)

    verify = fresh_runner(task, limits)

    try:
        engine = Engine(SolveProblem(task, pool, verify), the_model, store, the_strategy, budget or Budget(),
                        on_progress=on_progress, seed=seed, model_parallel=parallel)
        result = engine.run()
    except ExecutorError as exc:
        raise ExecutorError(f"the sandbox failed: {exc}") from exc
    finally:
        pool.close()
        store.close()
        if isinstance(model, str) and hasattr(the_model, "close"):
            the_model.close()  # what solve loaded it frees: an HTTP pool, a llama.cpp context
    if result.best_code is not None and (result.status is RunStatus.GREEN or write_best):
        write_atomically(task.target_path, result.best_code)
    return result
