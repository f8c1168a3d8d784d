"""`tree`: best-first search over candidates, for weak models.

Each round asks for several candidates: revisions of the best nodes so far (each with its own
feedback) and fresh samples of the task, since a weak model revising its own code mostly reproduces
it while a fresh sample is the cheapest different idea; every other fresh sample's stub also shows,
as doctest examples, tests the best candidates fail (feedback without the anchor of wrong code). Nodes are ranked by the fraction of tests
they pass, less a penalty for each time they were already expanded, so the search moves on from
a node that stopped paying. Temperatures rise where replies come back as duplicates (the engine
never re-executes those). A close node (most tests pass) first gets local repair: single-edit
mutants (loop/repair.py) run at executor speed, as a round of their own before the next model call.
"""

from __future__ import annotations

import re
from collections import Counter

from greenloop.execute import TestStatus
from greenloop.loop.extract import stub_helpers
from greenloop.loop.prompts import examples_messages, first_messages, revision_messages
from greenloop.loop.repair import mutants
from greenloop.loop.strategies import Attempt, Proposal
from greenloop.models import PromptStyle
from greenloop.task import Task


class TreeStrategy:
    name = "tree"

    def __init__(self, width: int = 4, beam: int = 2, expand_penalty: float = 0.2, repair_at: float = 0.5,
                 mutants_per_node: int = 40, max_repairs: int = 400, fresh_temperature: float = 0.8,
                 revise_temperature: float = 0.5) -> None:
        self.width, self.beam, self.expand_penalty = width, beam, expand_penalty
        self.repair_at, self.mutants_per_node, self.max_repairs = repair_at, mutants_per_node, max_repairs
        self.fresh_temperature, self.revise_temperature = fresh_temperature, revise_temperature
        self._repaired: set[int] = set()
        self._repairs = 0
        self._rounds = 0

    def propose(self, task: Task, style: PromptStyle, history: list[Attempt]) -> list[Proposal]:
        nodes = [a for a in history if a.code is not None and a.outcome is not None and a.kind != "duplicate"]
        repairs = self._repair(task, nodes)
        if repairs:
            return repairs  # a round of its own: cheap edits run before the next model call is spent
        proposals: list[Proposal] = []
        children = Counter(a.parent for a in history if a.parent is not None and a.kind != "repair")
        duplicates = Counter(a.parent for a in history if a.kind == "duplicate")
        ranked = sorted(nodes, key=lambda a: (a.fraction - self.expand_penalty * children[a.n], -a.n), reverse=True)
        beam = ranked[: self.beam] if ranked else []
        for node in beam:
            assert node.code is not None
            warmth = 0.1 * children[node.n] + 0.15 * duplicates[node.n]
            proposals.append(Proposal(revision_messages(task, style, node.code, node.feedback),
                                      min(1.0, self.revise_temperature + warmth), node))
        fresh = [a for a in history if a.parent is None and a.kind != "repair"][-8:]
        dup_rate = sum(a.kind == "duplicate" for a in fresh) / len(fresh) if fresh else 0.0
        temperature = min(1.1, self.fresh_temperature + 0.3 * dup_rate)
        examples = _failing_examples(ranked[:3], self._rounds)
        self._rounds += 1
        for i in range(self.width - len(beam)):
            # every other fresh sample sees what the best candidates got wrong, as doctest examples
            messages = examples_messages(task, style, examples) if examples and i % 2 else first_messages(task, style)
            proposals.append(Proposal(messages, temperature))
        return proposals

    def _repair(self, task: Task, nodes: list[Attempt]) -> list[Proposal]:
        """Mutants of the best close node not repaired yet (a mutant only if it beat its parent)."""
        if self._repairs >= self.max_repairs:
            return []
        fractions = {a.n: a.fraction for a in nodes}
        close = [a for a in nodes if a.n not in self._repaired and self.repair_at <= a.fraction < 1.0
                 and (a.kind != "repair" or a.fraction > fractions.get(a.parent or 0, 1.0))]
        if not close:
            return []
        node = max(close, key=lambda a: (a.fraction, -a.n))
        self._repaired.add(node.n)
        assert node.code is not None
        found = mutants(node.code, limit=min(self.mutants_per_node, self.max_repairs - self._repairs),
                        focus_lines=_failing_lines(node, task.target_path.name),
                        keep=frozenset(h.name for h in stub_helpers(task.stub)))
        self._repairs += len(found)
        return [Proposal([], 0.0, node, m.code, f"local repair of attempt {node.n}, {m.description}") for m in found]


def _failing_lines(node: Attempt, filename: str) -> frozenset[int]:
    """Lines of the candidate where a failing test's traceback passed."""
    pattern = re.compile(rf'File "{re.escape(filename)}", line (\d+)')
    if node.outcome is None:
        return frozenset()
    return frozenset(int(m) for t in node.outcome.tests for m in pattern.findall(t.traceback))


def _failing_examples(nodes: list[Attempt], rotate: int, k: int = 3) -> list[tuple[str, str]]:
    """Up to `k` (call, expected) pairs from equality tests the given nodes fail, those most of them
    fail first; `rotate` walks through the rest over rounds, so successive samples see different ones."""
    counts: Counter[tuple[str, str]] = Counter()
    for node in nodes:
        for t in node.outcome.tests if node.outcome else ():
            if t.status is TestStatus.FAILED and t.expression and t.expected and len(t.expression + t.expected) < 160:
                counts[(t.expression, t.expected)] += 1
    ranked = [pair for pair, _ in counts.most_common()]
    if len(ranked) <= k:
        return ranked
    start = (rotate * k) % len(ranked)
    return (ranked[start:] + ranked[:start])[:k]
