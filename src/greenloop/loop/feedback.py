"""Turning an Outcome into what the model reads: short, concrete, actual vs expected.

A 135M model has a small context, so this names at most a few failing tests, each in one or two
lines, with the values that matter, the failing line, and the local variables there. A failing test
whose example the stub does not show (the derivation keeps only what fits its budget) comes first,
with that example: the model learns the rest of the cases as they fail.
"""

from __future__ import annotations

from collections.abc import Mapping

from greenloop.execute import Outcome, TestResult, TestStatus
from greenloop.stub import plan_stub
from greenloop.task import Task

_MAX_TESTS = 4


def _short_id(test_id: str) -> str:
    return test_id.split("::", 1)[-1]


def unseen_examples(task: Task) -> dict[str, str]:
    """The examples of the task's test cases that its stub does not show, by test id within the file."""
    try:
        return plan_stub(task.test_source, task.target_module).examples_not_in(task.stub)
    except (SyntaxError, ValueError, RecursionError):
        return {}


def _describe(result: TestResult, example: str = "") -> str:
    name = _short_id(result.test_id)
    if result.status is TestStatus.TIMEOUT:
        return f"- {name}: timed out (an infinite loop, or far too slow)"
    if result.actual or result.expected:
        line = f"- {name}: {result.message}"
    else:
        line = f"- {name}: {result.message or result.status.value}"
    trace = [t.strip() for t in result.traceback.splitlines() if t.strip() and not t.strip().startswith("File")]
    if trace and not result.actual:
        line += f"\n  failing line: {trace[-1]}"
    if result.locals and not result.actual:
        values = ", ".join(f"{k}={v}" for k, v in list(result.locals.items())[:6])
        line += f"\n  local variables there: {values}"
    if result.output.strip():
        line += f"\n  printed: {result.output.strip()[-200:]}"
    call = example.splitlines()[0].removeprefix(">>> ") if example else ""
    if call and call not in result.message:
        line += "\n  the test's example:\n    " + example.replace("\n", "\n    ")
    return line


def render_feedback(outcome: Outcome, examples: Mapping[str, str] | None = None) -> str:
    """The feedback text for a non-green outcome; `examples` (from `unseen_examples`) are the test
    cases the prompt's stub does not show."""
    examples = examples or {}
    lines: list[str] = []
    if outcome.problem:
        problem = outcome.problem.replace("collection failed: ", "the module could not be imported:\n")
        lines.append(problem.strip())
    failing = [t for t in outcome.tests if t.status not in (TestStatus.PASSED, TestStatus.NOT_RUN)]
    failing.sort(key=lambda t: _short_id(t.test_id) not in examples)  # stable: unseen cases first
    shown = 0
    said: set[str] = set()
    for result in failing:
        # The same error in many tests is one fact; repeat only what is new.
        key = result.message if not result.actual else result.message + result.actual
        if key in said:
            continue
        said.add(key)
        if shown == _MAX_TESTS:
            break
        lines.append(_describe(result, examples.get(_short_id(result.test_id), "")))
        shown += 1
    if len(failing) > shown:
        lines.append(f"- ... {len(failing) - shown} more failing tests")
    lines.append(f"{outcome.passed} of {outcome.total} tests pass.")
    return "\n".join(lines)
