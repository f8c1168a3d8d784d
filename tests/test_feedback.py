"""What the model reads after a failing candidate."""

from __future__ import annotations

from greenloop.execute import Outcome, TestResult, TestStatus
from greenloop.loop.feedback import render_feedback


def test_feedback_names_tests_with_actual_vs_expected_and_dedupes() -> None:
    outcome = Outcome((
        TestResult("t.py::test_a", TestStatus.FAILED, "f(1) returned 2, expected 3", expression="f(1)",
                   actual="2", expected="3"),
        TestResult("t.py::test_b", TestStatus.ERROR, "ZeroDivisionError: division by zero",
                   traceback='  File "m.py", line 2, in f\n    return 1 / x', locals={"x": "0"}),
        TestResult("t.py::test_c", TestStatus.ERROR, "ZeroDivisionError: division by zero"),
        TestResult("t.py::test_d", TestStatus.PASSED),
        TestResult("t.py::test_e", TestStatus.TIMEOUT, "the test timed out"),
    ))
    text = render_feedback(outcome)
    assert "- test_a: f(1) returned 2, expected 3" in text
    assert "- test_b: ZeroDivisionError: division by zero\n  failing line: return 1 / x\n  local variables there: x=0" in text
    assert "test_c" not in text  # same error as test_b: said once
    assert "- test_e: timed out" in text
    assert text.endswith("1 of 5 tests pass.")


def test_feedback_reports_import_problems() -> None:
    outcome = Outcome((TestResult("t.py::test_a", TestStatus.NOT_RUN),),
                      problem="collection failed: m.py:1: in <module>\nE   SyntaxError: invalid syntax")
    text = render_feedback(outcome)
    assert text.startswith("the module could not be imported:\nm.py:1")
    assert "SyntaxError" in text
