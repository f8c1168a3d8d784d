"""The Recorder seam: what the engine writes every run and attempt through.

The run store (`greenloop.store.Store`) is the recorder in use; the engine knows only this
protocol, so a run can be recorded elsewhere (another process, another machine) or kept in memory.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Protocol

from greenloop.store import AttemptRecord


class Recorder(Protocol):
    def start_run(self, *, kind: str, tests_path: str, target: str, spec: str, model: str, strategy: str,
                  budget: dict[str, Any], python: str | None = None) -> str: ...

    def add_attempt(self, run_id: str, a: AttemptRecord) -> int: ...

    def update_run(self, run_id: str, **fields: Any) -> None: ...


@dataclass
class MemoryRecorder:
    """Keeps runs and attempts in memory: for embedding the loop where no run store is wanted."""

    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: dict[str, list[AttemptRecord]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def start_run(self, *, kind: str, tests_path: str, target: str, spec: str, model: str, strategy: str,
                  budget: dict[str, Any], python: str | None = None) -> str:
        run_id = f"memory-{next(self._ids)}"
        self.runs[run_id] = {"kind": kind, "tests_path": tests_path, "target": target, "spec": spec, "model": model,
                             "strategy": strategy, "budget": budget, "python": python}
        self.attempts[run_id] = []
        return run_id

    def add_attempt(self, run_id: str, a: AttemptRecord) -> int:
        self.attempts[run_id].append(a)
        return next(self._ids)

    def update_run(self, run_id: str, **fields: Any) -> None:
        self.runs[run_id].update(fields)
