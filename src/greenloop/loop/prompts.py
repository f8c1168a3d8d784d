"""The messages sent to the model: a first request, and a revision that sees code plus feedback.

Prompts stay short: the embedded model has a 4k context and copies long test files back, so it
sees the stub with examples (`prompt_style="examples"`); larger models also see the tests.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import TYPE_CHECKING

from greenloop.loop.problem import Attempt
from greenloop.models import Message, PromptStyle
from greenloop.task import Task

if TYPE_CHECKING:
    from greenloop.loop.problem import Problem

SYSTEM = (
    "You are an expert Python programmer. Reply with the complete Python module in one "
    "```python code block. Do not include tests or example usage."
)
_TEST_LIMIT = 6000


def _task_text(task: Task, style: PromptStyle) -> str:
    parts = []
    if task.spec and task.spec not in task.stub:
        parts.append(task.spec)
    parts.append(f"Complete this Python module `{task.target_path.name}`:\n```python\n{task.stub.strip()}\n```")
    if style == "tests":
        tests = task.test_source if len(task.test_source) <= _TEST_LIMIT else task.test_source[:_TEST_LIMIT] + "\n# ..."
        parts.append(f"It must pass these pytest tests ({task.tests_path.name}):\n```python\n{tests.strip()}\n```")
    return "\n\n".join(parts)


def first_messages(task: Task | Problem, style: PromptStyle) -> list[Message]:
    """The first request for a task. Given a Problem (what strategies receive) it asks the problem, so a
    strategy written against the `Task` API works in every mode."""
    if not isinstance(task, Task):
        return task.first_messages(style)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": _task_text(task, style)}]


def revision_messages(task: Task | Problem, style: PromptStyle, code: str, feedback: str) -> list[Message]:
    if not isinstance(task, Task):
        return task.revision_messages(style, Attempt(0, code, None, feedback))
    text = (
        f"{_task_text(task, style)}\n\nThis attempt is wrong:\n```python\n{code.strip()}\n```\n"
        f"Test results:\n{feedback}\n\nFix the code. Reply with the complete corrected module."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


def with_examples(stub: str, examples: list[tuple[str, str]]) -> str:
    """The stub with `>>> call` / `expected` lines added to the docstring of the function they call:
    a small model reads doctest examples far better than a report about its own wrong code."""
    try:
        tree = ast.parse(stub)
    except SyntaxError:
        return stub
    lines = stub.splitlines()
    for node in reversed([n for n in tree.body if isinstance(n, ast.FunctionDef) and ast.get_docstring(n)]):
        if not any(call.startswith(node.name + "(") for call, _ in examples):
            continue
        doc = node.body[0]
        end = (doc.end_lineno or doc.lineno) - 1
        closing = lines[end]
        if closing.strip() not in ('"""', "'''"):
            return stub  # a one-line docstring: leave it alone
        indent = closing[: len(closing) - len(closing.lstrip())]
        # An expected traceback spans lines; each keeps the docstring's indent.
        added = [f"{indent}>>> {call}\n{indent}" + expected.replace("\n", "\n" + indent)
                 for call, expected in examples if call.startswith(node.name + "(")]
        return "\n".join([*lines[:end], *added, *lines[end:]]) + "\n"
    return stub


def examples_messages(task: Task | Problem, style: PromptStyle, examples: list[tuple[str, str]]) -> list[Message]:
    """A fresh request whose stub also shows the given examples (calls and expected values)."""
    if not isinstance(task, Task):
        return task.examples_messages(style, examples)
    return first_messages(replace(task, stub=with_examples(task.stub, examples)), style)
