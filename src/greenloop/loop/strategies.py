"""Strategies decide what to ask the model next, from the attempts so far.

`revise` (the default for `solve`): revise the best candidate so far with its own feedback, warming
the temperature while it stagnates and restarting from the task every few stagnant rounds, so a
weak model neither drifts away from its best attempt nor gets stuck on it. `sample`: independent
samples with no feedback (the repeated-sampling baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from greenloop.execute import Outcome
from greenloop.loop.prompts import first_messages, revision_messages
from greenloop.models import Message, PromptStyle
from greenloop.task import Task


@dataclass(frozen=True)
class Attempt:
    n: int
    code: str | None
    outcome: Outcome | None
    feedback: str
    parent: int | None = None
    record_id: int = 0

    @property
    def passed(self) -> int:
        return self.outcome.passed if self.outcome else -1


@dataclass(frozen=True)
class Proposal:
    messages: list[Message]
    temperature: float
    parent: Attempt | None = None


class Strategy(Protocol):
    name: str

    def next(self, task: Task, style: PromptStyle, history: list[Attempt]) -> Proposal: ...


def best_attempt(history: list[Attempt]) -> Attempt | None:
    """Most tests passed; among equals the first to get there, so that attempts which merely
    repeat a score do not hide that the search has stagnated."""
    scored = [a for a in history if a.code is not None]
    return max(scored, key=lambda a: (a.passed, -a.n)) if scored else None


class ReviseStrategy:
    """Revise the best candidate with its feedback; while that stops paying, alternate with fresh
    samples (a weak model revising its own wrong code mostly reproduces it, and a fresh sample
    is the cheapest source of a different idea)."""

    name = "revise"

    def __init__(self, base_temperature: float = 0.6, fresh_temperature: float = 0.8) -> None:
        self.base_temperature = base_temperature
        self.fresh_temperature = fresh_temperature

    def next(self, task: Task, style: PromptStyle, history: list[Attempt]) -> Proposal:
        best = best_attempt(history)
        if best is None or best.code is None:
            return Proposal(first_messages(task, style), self.fresh_temperature)
        stagnant = history[-1].n - best.n
        if stagnant % 2 == 1:
            return Proposal(first_messages(task, style), self.fresh_temperature)
        temperature = min(1.0, self.base_temperature + 0.1 * min(stagnant // 2, 4))
        return Proposal(revision_messages(task, style, best.code, best.feedback), temperature, best)


class SampleStrategy:
    name = "sample"

    def __init__(self, temperature: float = 0.8) -> None:
        self.temperature = temperature

    def next(self, task: Task, style: PromptStyle, history: list[Attempt]) -> Proposal:
        return Proposal(first_messages(task, style), self.temperature)


STRATEGIES = {"revise": ReviseStrategy, "sample": SampleStrategy}
