"""The Python API behind `greenloop bench`: pick a benchmark and its problems, load the model, run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from greenloop.benchmarks.measure import BenchConfig, BenchRun, ProblemResult, run_bench
from greenloop.benchmarks.registry import BENCHMARKS
from greenloop.models import Model, load_model
from greenloop.task import TaskError


def bench(
    benchmark: str = "humaneval", *, model: str | Model = "local", base_url: str | None = None,
    strategy: str = "tree", strategy_params: Mapping[str, Any] | None = None, max_calls: int = 50,
    max_seconds: float = 900.0, problems: str | None = None, limit: int | None = None, tests: str = "full",
    seed: int = 0, workers: int = 1, jobs: int = 1, db: str | Path | None = None, fresh: bool = False,
    on_result: Callable[[ProblemResult], None] | None = None, on_start: Callable[[int], None] | None = None,
    parallel: int | None = None,
) -> BenchRun:
    """Measure `strategy` on `benchmark` (or resume the same bench); `model="canonical"` replays the
    reference solutions. Raises BadInput for an unknown benchmark, strategy, parameter or selection."""
    if max_seconds <= 0:
        raise TaskError("--max-seconds must be positive")
    spec = model if isinstance(model, str) else model.name
    params = tuple(sorted((str(k), str(v)) for k, v in (strategy_params or {}).items()))
    config = BenchConfig(benchmark, spec, strategy, max_calls, tests, seed, max_seconds, workers, jobs, params,
                         parallel)
    chosen = BENCHMARKS.create(benchmark)
    selected = chosen.select(chosen.problems(), problems, limit)
    the_model: Model | None = None
    if not isinstance(model, str):
        the_model = model
    elif model != "canonical":
        the_model = load_model(model, base_url=base_url)
    if the_model is not None:
        the_model.check()
    return run_bench(config, selected, db=db, model=the_model, fresh=fresh, on_result=on_result,
                     on_start=on_start)
