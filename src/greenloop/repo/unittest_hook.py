"""Runs a `python -m unittest ...` command with per-test results streamed to greenloop.

`python -m unittest ARGS` becomes `python -m <random name> ARGS`: the same discovery and arguments
(it is `unittest.main`), with a result class that sends each test's start and outcome over the
signed channel of the report plugin (`report_plugin.py`, whose random name replaces
`_greenloop_report` below when it is installed) as it happens. A unittest command is judged by those
per-test results, not by its exit status. With GREENLOOP_COLLECT=1 it only lists the tests.

Copied next to the report plugin and run by the project's interpreter: standard library only.
"""

from __future__ import annotations

import os
import sys
import unittest
from typing import Any

_COLLECT = os.environ.pop("GREENLOOP_COLLECT", "") == "1"


def _ids(suite: Any) -> list[str]:
    found: list[str] = []
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            found.extend(_ids(test))
        else:
            found.append(test.id())
    return found


def _main() -> None:
    """Take the channel's writer before any test module is imported and drop the channel's module
    from `sys.modules`: the writer then lives only in closures of the classes below."""
    import _greenloop_report as channel  # type: ignore[import-not-found]

    send = channel.take()
    sys.modules.pop(channel.__name__, None)
    del channel
    if send is None:
        raise SystemExit("greenloop: the result channel was already taken")

    def phase(test: Any, outcome: str, message: str = "", text: str = "", xfail: bool = False) -> None:
        send({"t": "phase", "id": test.id(), "when": "call", "outcome": outcome, "xfail": xfail,
              "message": message[:600], "text": text[-4000:], "frames": [], "duration": 0.0})

    class StreamingResult(unittest.TextTestResult):
        def startTest(self, test: Any) -> None:
            send({"t": "start", "id": test.id()})
            super().startTest(test)

        def addSuccess(self, test: Any) -> None:
            super().addSuccess(test)
            phase(test, "passed")

        def addFailure(self, test: Any, err: Any) -> None:
            super().addFailure(test, err)
            text = self.failures[-1][1]
            phase(test, "failed", text.strip().splitlines()[-1], text)

        def addError(self, test: Any, err: Any) -> None:
            super().addError(test, err)
            text = self.errors[-1][1]
            if hasattr(test, "id"):
                phase(test, "failed", text.strip().splitlines()[-1], text)

        def addSkip(self, test: Any, reason: str) -> None:
            super().addSkip(test, reason)
            phase(test, "skipped", reason)

        def addExpectedFailure(self, test: Any, err: Any) -> None:
            super().addExpectedFailure(test, err)
            phase(test, "skipped", "expected failure", xfail=True)

        def addUnexpectedSuccess(self, test: Any) -> None:
            super().addUnexpectedSuccess(test)
            phase(test, "failed", "unexpected success")

    class Program(unittest.TestProgram):
        def runTests(self) -> None:
            tests = self.test  # type: ignore[attr-defined]
            send({"t": "collected", "ids": _ids(tests), "files": [], "rootdir": os.getcwd()})
            if _COLLECT:
                send({"t": "finish", "exit": 0})
                sys.exit(0)
            runner = unittest.TextTestRunner(resultclass=StreamingResult, verbosity=self.verbosity)  # type: ignore[arg-type]
            result = runner.run(tests)
            send({"t": "finish", "exit": 0 if result.wasSuccessful() else 1})
            sys.exit(0 if result.wasSuccessful() else 1)

    Program(module=None, argv=["python -m unittest", *sys.argv[1:]])


if __name__ == "__main__":
    _main()
