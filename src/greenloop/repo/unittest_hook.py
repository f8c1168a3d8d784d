"""Runs a `python -m unittest ...` command with per-test results streamed to greenloop.

`python -m unittest ARGS` becomes `python -m _greenloop_unittest ARGS`: the same discovery and
arguments (it is `unittest.main`), with a result class that sends each test's start and outcome
over the signed channel of `_greenloop_report` as it happens. A unittest command is judged by those
per-test results, not by its exit status. With GREENLOOP_COLLECT=1 it only lists the tests.

Copied next to `_greenloop_report` and run by the project's interpreter: standard library only.
"""

from __future__ import annotations

import os
import sys
import unittest
from typing import Any

import _greenloop_report as channel  # type: ignore[import-not-found]

_COLLECT = os.environ.pop("GREENLOOP_COLLECT", "") == "1"


def _ids(suite: Any) -> list[str]:
    found: list[str] = []
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            found.extend(_ids(test))
        else:
            found.append(test.id())
    return found


def _phase(test: Any, outcome: str, message: str = "", text: str = "", xfail: bool = False) -> None:
    channel.send({"t": "phase", "id": test.id(), "when": "call", "outcome": outcome, "xfail": xfail,
                  "message": message[:600], "text": text[-4000:], "frames": [], "duration": 0.0})


class StreamingResult(unittest.TextTestResult):
    def startTest(self, test: Any) -> None:
        channel.send({"t": "start", "id": test.id()})
        super().startTest(test)

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        _phase(test, "passed")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        text = self.failures[-1][1]
        _phase(test, "failed", text.strip().splitlines()[-1], text)

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        text = self.errors[-1][1]
        if hasattr(test, "id"):
            _phase(test, "failed", text.strip().splitlines()[-1], text)

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        _phase(test, "skipped", reason)

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        _phase(test, "skipped", "expected failure", xfail=True)

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        _phase(test, "failed", "unexpected success")


class Program(unittest.TestProgram):
    def runTests(self) -> None:
        tests = self.test  # type: ignore[attr-defined]
        channel.send({"t": "collected", "ids": _ids(tests), "files": [], "rootdir": os.getcwd()})
        if _COLLECT:
            channel.send({"t": "finish", "exit": 0, "opened": []})
            sys.exit(0)
        runner = unittest.TextTestRunner(resultclass=StreamingResult, verbosity=self.verbosity)  # type: ignore[arg-type]
        result = runner.run(tests)
        channel.send({"t": "finish", "exit": 0 if result.wasSuccessful() else 1, "opened": []})
        sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    Program(module=None, argv=["python -m unittest", *sys.argv[1:]])
