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
"""

from __future__ import annotations

import ast
import re
from collections import Counter

from greenloop.execute import TestStatus
from greenloop.loop.extract import stub_helpers
from greenloop.loop.prompts import examples_messages, first_messages, revision_messages
from greenloop.loop.repair import mutants
from greenloop.loop.strategies import Attempt, Proposal
from greenloop.models import PromptStyle
from greenloop.stub import plan_stub
from greenloop.task import Task


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
        self._cases: dict[str, tuple[str, str]] | None = None

    def propose(self, task: Task, style: PromptStyle, history: list[Attempt], width: int = 1) -> list[Proposal]:
        width = max(self.width, width)  # as many model calls as the engine keeps in flight
        nodes = [a for a in history if a.code is not None and a.outcome is not None and a.kind != "duplicate"]
        if not nodes:
            return [Proposal(first_messages(task, style), self.fresh_temperature) for _ in range(width)]
        repairs = self._renames(task, nodes) + self._repair(task, nodes)
        if repairs:
            return repairs  # a round of its own: cheap edits run before the next model call is spent
        children = Counter(a.parent for a in history if a.parent is not None and a.kind != "repair")
        ranked = sorted(nodes, key=lambda a: (a.fraction, -a.n), reverse=True)
        proposals: list[Proposal] = []
        best = next((a for a in ranked if a.fraction >= self.close and children[a.n] < self.max_revisions), None)
        if best is not None and best.code is not None:
            temperature = min(1.1, self.revise_temperature + 0.15 * children[best.n])
            proposals.append(Proposal(revision_messages(task, style, best.code, best.feedback), temperature, best))
        fresh = [a for a in history if a.parent is None and a.kind != "repair"][-8:]
        dup_rate = sum(a.kind == "duplicate" for a in fresh) / len(fresh) if fresh else 0.0
        temperature = min(1.1, self.fresh_temperature + 0.3 * dup_rate)
        proposals.append(Proposal(first_messages(task, style), temperature))
        cases = self._test_cases(task)
        while len(proposals) < width:
            shown = _failing(ranked[:3], cases, self._rounds, self.examples)
            self._rounds += 1
            messages = examples_messages(task, style, shown) if shown else first_messages(task, style)
            proposals.append(Proposal(messages, temperature))
        return proposals

    def _test_cases(self, task: Task) -> dict[str, tuple[str, str]]:
        if self._cases is None:
            names = set(_arities(task.stub))
            shown = re.sub(r"\s+", "", task.stub)  # the stub's own examples need no repeating
            try:  # the stub's derivation (stub/): every test case, parametrize rows included
                pairs = plan_stub(task.test_source, task.target_module).example_pairs()
            except (SyntaxError, ValueError, RecursionError):
                pairs = {}
            self._cases = {test: case for test, case in pairs.items()
                           if case[0].split("(")[0] in names and len(case[0]) + len(case[1]) < 160
                           and f">>>{re.sub(r'[ ]+', '', case[0])}" not in shown}
        return self._cases

    def _renames(self, task: Task, nodes: list[Attempt]) -> list[Proposal]:
        """A reply that wrote the function under another name fails at import; the same code with the
        name the tests import is a free candidate."""
        found: list[Proposal] = []
        stub = _arities(task.stub)
        for node in nodes:
            missing = _IMPORT_ERROR.search(node.outcome.problem if node.outcome else "")
            if node.n in self._repaired or missing is None or node.code is None or node.kind == "repair":
                continue
            self._repaired.add(node.n)
            want = missing.group(1)
            for name, count in _arities(node.code).items():
                if count == stub.get(want) and name not in stub:
                    found.append(Proposal([], 0.0, node, f"{node.code.rstrip()}\n\n\n{want} = {name}\n",
                                          f"local repair of attempt {node.n}: the reply named {want} {name}"))
        return found

    def _repair(self, task: Task, nodes: list[Attempt]) -> list[Proposal]:
        """Mutants of the best close node not repaired yet (a mutant only if it beat its parent)."""
        if self._repairs >= self.max_repairs:
            return []
        fractions = {a.n: a.fraction for a in nodes}
        close = [a for a in nodes if a.n not in self._repaired and self.close <= a.fraction < 1.0
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


_IMPORT_ERROR = re.compile(r"cannot import name '(\w+)'")


def _arities(code: str) -> dict[str, int]:
    """Top-level functions and their number of positional parameters ({} when the code does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    return {n.name: len(n.args.args) for n in tree.body if isinstance(n, ast.FunctionDef)}


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


def _failing_lines(node: Attempt, filename: str) -> frozenset[int]:
    """Lines of the candidate where a failing test's traceback passed."""
    pattern = re.compile(rf'File "{re.escape(filename)}", line (\d+)')
    if node.outcome is None:
        return frozenset()
    return frozenset(int(m) for t in node.outcome.tests for m in pattern.findall(t.traceback))
