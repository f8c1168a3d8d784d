"""Benchmarks by name: built-ins and plugins (entry points `greenloop.benchmarks`) alike.

A benchmark is a factory for an object with `name`, `problems()` (every problem it has) and
`select(problems, spec, limit)` (the ones `--problems` / `--limit` ask for). A problem has a
`task_id`, a `reference` solution (`--model canonical` replays it) and `task(tests)`: the
greenloop Task for `--tests full` or `--tests visible`.
"""

from __future__ import annotations

from typing import Protocol

from greenloop.registry import Registry
from greenloop.task import Task


class BenchProblem(Protocol):
    @property
    def task_id(self) -> str: ...

    @property
    def reference(self) -> str: ...

    def task(self, tests: str = "full") -> Task: ...


class Benchmark(Protocol):
    name: str

    def problems(self) -> list[BenchProblem]: ...

    def select(self, problems: list[BenchProblem], spec: str | None, limit: int | None) -> list[BenchProblem]: ...


BENCHMARKS: Registry[Benchmark] = Registry("greenloop.benchmarks", "benchmark")
BENCHMARKS.register("humaneval", "greenloop.benchmarks.humaneval:HumanEval")
