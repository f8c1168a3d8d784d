"""`tree`: best-first search over candidates, for weak models.

Candidates are nodes scored by the fraction of tests they pass. The first round is a few fresh
samples. Later rounds draw on the best nodes' failures in the form a small model can use: fresh
samples whose stub shows, as doctest examples, tests the best nodes fail (rotating through them,
so samples differ), plus one plain sample per round for diversity. A close node (at least half
the tests) also gets one revision that shows its code and feedback; only one, because on HumanEval
a 135M model given its own wrong code mostly reproduces it (docs/benchmarks.md). Before the next
model call, a close node gets local repair: single-edit mutants (loop/repair.py) run at executor
speed in a round of their own, as does a reply that wrote the function under another name, renamed.
Duplicates are never re-executed (the engine dedupes); fresh samples run hotter while replies keep
coming back as duplicates.

Everything a candidate is, the problem says (loop/problem.py), so the same search runs `fix`: there
the first node is the baseline (the user's code), repaired before any model call whatever it scores,
and the examples rounds fall back to fresh requests (a repository's tests are not one call each).
"""

from __future__ import annotations

from collections import Counter

from greenloop.execute import TestStatus
from greenloop.loop.problem import Attempt, Problem
from greenloop.loop.strategies import Proposal
from greenloop.models import PromptStyle


class TreeStrategy:
    name = "tree"

    def __init__(self, width: int = 4, close: float = 0.5, max_revisions: int = 1, examples: int = 3,
                 mutants_per_node: int = 40, max_repairs: int = 400, fresh_temperature: float = 0.8,
                 revise_temperature: float = 0.8) -> None:
        self.width, self.close, self.max_revisions, self.examples = width, close, max_revisions, examples
        self.mutants_per_node, self.max_repairs = mutants_per_node, max_repairs
        self.fresh_temperature, self.revise_temperature = fresh_temperature, revise_temperature
        self._repaired: set[int] = set()
        self._repairs = 0
        self._rounds = 0

    def propose(self, problem: Problem, style: PromptStyle, history: list[Attempt], width: int = 1) -> list[Proposal]:
        width = max(self.width, width)  # as many model calls as the engine keeps in flight
        nodes = [a for a in history if a.code is not None and a.outcome is not None and a.kind != "duplicate"]
        if not nodes:
            return [Proposal(problem.first_messages(style), self.fresh_temperature) for _ in range(width)]
        repairs = self._renames(problem, nodes) + self._repair(problem, nodes)
        if repairs:
            return repairs  # a round of its own: cheap edits run before the next model call is spent
        # Asking to see more (repo mode's SHOW/FIND) is not a revision.
        children = Counter(a.parent for a in history if a.parent is not None and a.kind not in ("repair", "request"))
        ranked = sorted(nodes, key=lambda a: (a.fraction, -a.n), reverse=True)
        proposals: list[Proposal] = []
        best = next((a for a in ranked if a.fraction >= self.close and children[a.n] < self.max_revisions), None)
        if best is not None:
            temperature = min(1.1, self.revise_temperature + 0.15 * children[best.n])
            proposals.append(Proposal(problem.revision_messages(style, best), temperature, best))
        fresh = [a for a in history if a.parent is None and a.kind not in ("repair", "baseline")][-8:]
        dup_rate = sum(a.kind == "duplicate" for a in fresh) / len(fresh) if fresh else 0.0
        temperature = min(1.1, self.fresh_temperature + 0.3 * dup_rate)
        proposals.append(Proposal(problem.first_messages(style), temperature))
        cases = problem.test_cases()
        while len(proposals) < width:
            shown = _failing(ranked[:3], cases, self._rounds, self.examples)
            self._rounds += 1
            messages = problem.examples_messages(style, shown) if shown else problem.first_messages(style)
            proposals.append(Proposal(messages, temperature))
        return proposals

    def _renames(self, problem: Problem, nodes: list[Attempt]) -> list[Proposal]:
        """A reply that wrote the function under another name fails at import: the problem may offer
        the same code under the name the tests import, a free candidate."""
        found: list[Proposal] = []
        for node in nodes:
            if node.n in self._repaired or node.kind in ("repair", "baseline"):
                continue
            renamed = problem.renames(node)
            if renamed:
                self._repaired.add(node.n)
            found += [Proposal([], 0.0, node, r.candidate, r.note) for r in renamed]
        return found

    def _repair(self, problem: Problem, nodes: list[Attempt]) -> list[Proposal]:
        """Mutants of the best close node not repaired yet (a mutant only if it beat its parent)."""
        if self._repairs >= self.max_repairs:
            return []
        fractions = {a.n: a.fraction for a in nodes}
        # The code a fix starts from (repo mode's baseline) is a near miss by assumption, whatever it scores.
        close = [a for a in nodes if a.n not in self._repaired and a.fraction < 1.0
                 and (self.close <= a.fraction or a.kind == "baseline")
                 and (a.kind != "repair" or a.fraction > fractions.get(a.parent or 0, 1.0))]
        if not close:
            return []
        node = max(close, key=lambda a: (a.fraction, -a.n))
        self._repaired.add(node.n)
        found = problem.mutants(node, min(self.mutants_per_node, self.max_repairs - self._repairs))
        self._repairs += len(found)
        return [Proposal([], 0.0, node, r.candidate, r.note) for r in found]


def _failing(nodes: list[Attempt], cases: dict[str, tuple[str, str]], rotate: int, k: int) -> list[tuple[str, str]]:
    """Up to `k` test cases the given nodes do not pass, those most of them miss first; `rotate` walks
    through the rest over successive samples, so they see different examples."""
    counts: Counter[tuple[str, str]] = Counter()
    for node in nodes:
        for t in node.outcome.tests if node.outcome else ():
            case = cases.get(t.test_id.split("::", 1)[-1])
            if case is not None and t.status is not TestStatus.PASSED:
                counts[case] += 1
    ranked = [case for case, _ in counts.most_common()]
    if len(ranked) <= k:
        return ranked
    start = (rotate * k) % len(ranked)
    return (ranked[start:] + ranked[:start])[:k]
