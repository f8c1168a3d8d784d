"""Strategies decide what to try next, a round at a time, from the attempts so far.

A round is a list of `Proposal`s: model requests (messages + temperature) and, for local repair,
ready-made code that the engine executes without calling the model. The engine runs a round's
model calls and executions overlapped and asks again once the round is done; an empty round
means the strategy has nothing left to try.

`single`: one call (the pass@1 baseline). `sample`: independent samples, no feedback (the
repeated-sampling baseline). `revise` (the default for `solve`): revise the best candidate with its
own feedback, alternating with fresh samples while that stagnates. `tree` (loop/tree.py): best-first
search over candidates with local repair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from greenloop.loop.problem import Attempt, Problem
from greenloop.models import Message, PromptStyle
from greenloop.registry import Registry

__all__ = ["STRATEGIES", "Attempt", "Proposal", "Strategy", "best_attempt"]


@dataclass(frozen=True)
class Proposal:
    """One thing to try: a model request, or (`candidate` set) a candidate made without the model."""

    messages: list[Message]
    temperature: float = 0.8
    parent: Attempt | None = None
    candidate: Any = None
    note: str = ""  # what a ready-made candidate changed, kept as its "response" in the run store

    @property
    def needs_model(self) -> bool:
        return self.candidate is None


class Strategy(Protocol):
    """`propose` builds its requests through the problem (`first_messages`, `revision_messages`, ...),
    so one strategy serves every mode. It may also take `width`, the model calls the engine keeps in
    flight (`--parallel`): a strategy that accepts it fills a round with at least that many requests."""

    name: str

    def propose(self, problem: Problem, style: PromptStyle, history: list[Attempt]) -> list[Proposal]: ...


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

    def propose(self, problem: Problem, style: PromptStyle, history: list[Attempt], width: int = 1) -> list[Proposal]:
        fresh = Proposal(problem.first_messages(style), self.fresh_temperature)
        best = best_attempt(history)
        if best is None or best.code is None:
            return [fresh] * width
        # Attempts since the best, but a request to see more code (repo mode) is not one: the
        # answer is shown to the same parent's next revision.
        stagnant = sum(1 for a in history if a.n > best.n and a.kind != "request")
        temperature = min(1.0, self.base_temperature + 0.1 * min(stagnant // 2, 4))
        revision = Proposal(problem.revision_messages(style, best), temperature, best)
        # A wider round alternates the two, each call with its own seed.
        pair = (fresh, revision) if stagnant % 2 == 1 else (revision, fresh)
        return [pair[i % 2] for i in range(width)]


class SampleStrategy:
    """Independent samples of the first request; rounds of several, since no sample waits for
    another's result (so the engine overlaps each execution with the next call)."""

    name = "sample"

    def __init__(self, temperature: float = 0.8, round_size: int = 4) -> None:
        self.temperature = temperature
        self.round_size = round_size

    def propose(self, problem: Problem, style: PromptStyle, history: list[Attempt], width: int = 1) -> list[Proposal]:
        return [Proposal(problem.first_messages(style), self.temperature)] * max(self.round_size, width)


class SingleStrategy:
    """One call at a low temperature: the pass@1 baseline."""

    name = "single"

    def __init__(self, temperature: float = 0.2) -> None:
        self.temperature = temperature

    def propose(self, problem: Problem, style: PromptStyle, history: list[Attempt]) -> list[Proposal]:
        tried = [a for a in history if a.kind != "baseline"]
        return [] if tried else [Proposal(problem.first_messages(style), self.temperature)]


# Built-ins register as a plugin would: `[project.entry-points."greenloop.strategies"]` in a
# third-party package's pyproject.toml adds `name = "module:Factory"` beside these.
STRATEGIES: Registry[Strategy] = Registry("greenloop.strategies", "strategy")
STRATEGIES.register("revise", ReviseStrategy)
STRATEGIES.register("sample", SampleStrategy)
STRATEGIES.register("single", SingleStrategy)
STRATEGIES.register("tree", "greenloop.loop.tree:TreeStrategy")
