"""`solve` as a Problem: a candidate is the text of one module, run against the tests in the executor.

What is particular to writing one module: the prompts show the stub (with examples derived from
the tests) and, for capable models, the tests; a reply's code is the module (`extract_code`); a
reply that wrote a tested function under another name gets a free renamed candidate; mutants are
made from the module's syntax tree and leave the helpers the stub gave alone.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from greenloop.execute import Executor, Outcome
from greenloop.loop.extract import extract_code, normalise, stub_helpers
from greenloop.loop.feedback import render_feedback, unseen_examples
from greenloop.loop.problem import Attempt, Repair, Reply
from greenloop.loop.prompts import examples_messages, first_messages, revision_messages
from greenloop.loop.repair import mutants
from greenloop.models import Message, PromptStyle
from greenloop.stub import imported_names, plan_stub
from greenloop.task import Task

# The closing fence of the code block: what follows it is prose we would pay for and discard.
STOP = ("\n```\n",)
NO_CODE_FEEDBACK = "Your reply contained no Python code. Reply with the complete module in one ```python block."
_IMPORT_ERROR = re.compile(r"cannot import name '(\w+)'")


class SolveProblem:
    """Write `task.target_path` until `task.tests_path` passes; `verify` is the clean re-run."""

    max_tokens: int = 640
    stop: tuple[str, ...] = STOP
    context: tuple[str, ...] = ()
    python = ""

    def __init__(self, task: Task, executor: Executor | None = None,
                 verify: Callable[[str], Outcome] | None = None, kind: str = "solve") -> None:
        """Without an executor it can only propose (strategies' unit tests do that)."""
        self.task, self.executor, self._verify, self.kind = task, executor, verify, kind
        self.required = imported_names(ast.parse(task.test_source), task.target_module)[0]
        self.unseen = unseen_examples(task)  # test cases the stub leaves out: shown when they fail
        self._cases: dict[str, tuple[str, str]] | None = None

    def run_fields(self) -> dict[str, Any]:
        return {"tests_path": str(self.task.tests_path), "target": str(self.task.target_path), "spec": self.task.spec}

    @property
    def _executor(self) -> Executor:
        if self.executor is None:
            raise ValueError("this SolveProblem was made without an executor: it cannot run candidates")
        return self.executor

    def expected_ids(self) -> list[str]:
        return self._executor.expected_ids()

    def baseline(self) -> None:
        return None  # the stub is not a candidate: the first model call starts the search

    def first_messages(self, style: PromptStyle) -> list[Message]:
        return first_messages(self.task, style)

    def revision_messages(self, style: PromptStyle, parent: Attempt) -> list[Message]:
        return revision_messages(self.task, style, parent.code or "", parent.feedback)

    def examples_messages(self, style: PromptStyle, examples: list[tuple[str, str]]) -> list[Message]:
        return examples_messages(self.task, style, examples)

    def test_cases(self) -> dict[str, tuple[str, str]]:
        """The stub's derivation (stub/): every test case, parametrize rows included, that calls a
        function of the stub, is short, and is not shown by the stub already."""
        if self._cases is None:
            names = set(arities(self.task.stub))
            shown = re.sub(r"\s+", "", self.task.stub)
            try:
                pairs = plan_stub(self.task.test_source, self.task.target_module).example_pairs()
            except (SyntaxError, ValueError, RecursionError):
                pairs = {}
            self._cases = {test: case for test, case in pairs.items()
                           if case[0].split("(")[0] in names and len(case[0]) + len(case[1]) < 160
                           and f">>>{re.sub(r'[ ]+', '', case[0])}" not in shown}
        return self._cases

    def parse(self, text: str, parent: Attempt | None) -> Reply:
        code = extract_code(text, self.required, self.task.stub)
        return Reply(code) if code is not None else Reply(None, "model", NO_CODE_FEEDBACK)

    def execute(self, candidate: str) -> Outcome:
        return self._executor.run(candidate)

    def verify(self, candidate: str) -> Outcome:
        return self._verify(candidate) if self._verify is not None else self._executor.run(candidate)

    def key(self, candidate: str) -> str:
        return normalise(candidate)

    def stored(self, candidate: str) -> str:
        return candidate

    def feedback(self, candidate: str, outcome: Outcome) -> str:
        return "" if outcome.green else render_feedback(outcome, self.unseen)

    def renames(self, node: Attempt) -> list[Repair]:
        """A reply that wrote the function under another name fails at import; the same code with the
        name the tests import is a free candidate."""
        missing = _IMPORT_ERROR.search(node.outcome.problem if node.outcome else "")
        if missing is None or node.code is None:
            return []
        want, stub = missing.group(1), arities(self.task.stub)
        return [Repair(f"{node.code.rstrip()}\n\n\n{want} = {name}\n",
                       f"local repair of attempt {node.n}: the reply named {want} {name}")
                for name, count in arities(node.code).items() if count == stub.get(want) and name not in stub]

    def mutants(self, node: Attempt, limit: int) -> list[Repair]:
        if node.code is None:
            return []
        found = mutants(node.code, limit=limit, focus_lines=_failing_lines(node, self.task.target_path.name),
                        keep=frozenset(h.name for h in stub_helpers(self.task.stub)))
        return [Repair(m.code, f"local repair of attempt {node.n}, {m.description}") for m in found]


def arities(code: str) -> dict[str, int]:
    """Top-level functions and their number of positional parameters ({} when the code does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    return {n.name: len(n.args.args) for n in tree.body if isinstance(n, ast.FunctionDef)}


def _failing_lines(node: Attempt, filename: str) -> frozenset[int]:
    """Lines of the candidate where a failing test's traceback passed."""
    pattern = re.compile(rf'File "{re.escape(filename)}", line (\d+)')
    if node.outcome is None:
        return frozenset()
    return frozenset(int(m) for t in node.outcome.tests for m in pattern.findall(t.traceback))
