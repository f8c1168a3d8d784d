"""Turning an Outcome into what the model reads: short, concrete, actual vs expected.

A 135M model has a small context, so this names at most a few failing tests, each in one or two
lines, with the values that matter, the failing line, and the local variables there.
"""

from __future__ import annotations

from greenloop.execute import Outcome, TestResult, TestStatus

_MAX_TESTS = 4


def _short_id(test_id: str) -> str:
    return test_id.split("::", 1)[-1]


def _describe(result: TestResult) -> str:
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
    return line


def render_feedback(outcome: Outcome) -> str:
    """The feedback text for a non-green outcome."""
    lines: list[str] = []
    if outcome.problem:
        problem = outcome.problem.replace("collection failed: ", "the module could not be imported:\n")
        lines.append(problem.strip())
    failing = [t for t in outcome.tests if t.status not in (TestStatus.PASSED, TestStatus.NOT_RUN)]
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
        lines.append(_describe(result))
        shown += 1
    if len(failing) > shown:
        lines.append(f"- ... {len(failing) - shown} more failing tests")
    lines.append(f"{outcome.passed} of {outcome.total} tests pass.")
    return "\n".join(lines)
