"""The Problem seam: what the one engine solves, whatever the mode.

The engine owns budgets, rounds, dedupe, recording and verification; strategies decide what to ask
next. Neither knows what a candidate *is*. A `Problem` does: how to ask the model for one (a first
request, a revision of an attempt, a request showing failing examples), how a reply becomes one,
how one runs and is verified, and what local edits of one are worth trying without the model.

- `solve` (loop/solving.py): a candidate is the text of one module; it runs in the warm executor.
- `fix` (repo/problem.py): a candidate is a set of edited files of a repository (a `Change`); it
  runs as the project's test command in a private copy, and the stored form is its diff.

A candidate is opaque to the engine and to strategies: they hand it back to the problem that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from greenloop.execute import Outcome
from greenloop.models import Message, PromptStyle


@dataclass(frozen=True)
class Attempt:
    """One recorded attempt, as strategies see it. `code` is what the store keeps (a module's text,
    or a change's diff; None when the reply gave nothing to run); `candidate` is what the problem runs."""

    n: int
    code: str | None
    outcome: Outcome | None
    feedback: str
    parent: int | None = None
    record_id: int = 0
    kind: str = "model"  # "baseline" | "model" | "duplicate" | "repair" | "request" | "edit-error" | "screened"
    candidate: Any = None

    @property
    def passed(self) -> int:
        return self.outcome.passed if self.outcome else -1

    @property
    def fraction(self) -> float:
        return self.outcome.fraction if self.outcome else -1.0


@dataclass(frozen=True)
class Reply:
    """What a model reply became: a candidate to run, or (candidate None) why there is none, recorded
    as an attempt of `kind` whose `feedback` says so."""

    candidate: Any = None
    kind: str = "model"
    feedback: str = ""


@dataclass(frozen=True)
class Repair:
    """A candidate made without the model, and what changed (kept as its "response")."""

    candidate: Any
    note: str


class Problem(Protocol):
    kind: str  # the run's kind in the store: "solve", "fix", "bench"
    max_tokens: int  # for one reply
    stop: tuple[str, ...]  # where a reply is complete
    context: tuple[str, ...]  # what the model was last shown (files), for progress displays
    python: str  # the interpreter that runs the tests, when it is the user's

    def run_fields(self) -> dict[str, Any]:
        """tests_path, target, spec (and python) for the run store."""
        ...

    def expected_ids(self) -> list[str]: ...

    def baseline(self) -> tuple[Any, Outcome] | None:
        """The code as it stands and how it fares, when there is code to start from (recorded as attempt 0)."""
        ...

    def first_messages(self, style: PromptStyle) -> list[Message]: ...

    def revision_messages(self, style: PromptStyle, parent: Attempt) -> list[Message]: ...

    def examples_messages(self, style: PromptStyle, examples: list[tuple[str, str]]) -> list[Message]:
        """A fresh request that also shows these (call, expected) test cases."""
        ...

    def test_cases(self) -> dict[str, tuple[str, str]]:
        """Test name -> (call, expected) for tests that read as one call ({} when none do)."""
        ...

    def parse(self, text: str, parent: Attempt | None) -> Reply: ...

    def execute(self, candidate: Any) -> Outcome: ...

    def verify(self, candidate: Any) -> Outcome:
        """The clean re-run that confirms a green, independent of the warm path."""
        ...

    def key(self, candidate: Any) -> str:
        """Equal for candidates that must behave the same (the engine runs each key once)."""
        ...

    def stored(self, candidate: Any) -> str:
        """What the store keeps of a candidate: code, or a diff."""
        ...

    def feedback(self, candidate: Any, outcome: Outcome) -> str:
        """What the model reads about a failed candidate."""
        ...

    def renames(self, node: Attempt) -> list[Repair]:
        """Free candidates for a reply that named what the tests import differently."""
        ...

    def mutants(self, node: Attempt, limit: int) -> list[Repair]:
        """Single-edit variants of a close candidate, on the lines its failing tracebacks touched first."""
        ...
