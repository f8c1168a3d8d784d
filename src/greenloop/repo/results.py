"""Per-test results of the user's test command, from a channel the code under test cannot rewrite.

greenloop opens two pipes before the command starts: one carries a fresh random key to the plugin
(`report_plugin.py`, read and closed at plugin load, before any code under test is imported), the
other carries the plugin's records back, each signed with that key and numbered. A thread here
reads the records as they arrive; one that fails verification, repeats a number or comes after
the end makes the whole run unsound. What the code under test could do at exit (rewrite a report
file, print a summary) no longer counts.

`judge` turns the records into an Outcome against the tests collected at the baseline: every one
of them must pass; one that ran at the baseline but is skipped or xfailed now has failed; one that
never reported has not run (so an early exit is never green).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from greenloop.execute import Outcome, TestResult, TestStatus

_FAILED_IMPORT = "unittest.loader._FailedTest."
_MAX_RECORD = 1 << 20  # bytes in one record: a test's report is a few kB
_MAX_RECORDS = 500_000  # unittest's stand-in for a module that did not import


class Channel:
    """The two pipes of one command run, and the reader of its records."""

    def __init__(self) -> None:
        self.key = secrets.token_hex(32).encode()
        self._key_r, key_w = os.pipe()
        os.write(key_w, self.key)
        os.close(key_w)
        self._out_r, self._out_w = os.pipe()
        self.records: list[dict[str, Any]] = []
        self.problem = ""
        self._thread = threading.Thread(target=self._read, daemon=True)

    def child_fds(self) -> tuple[int, int]:
        return self._key_r, self._out_w

    def env(self) -> dict[str, str]:
        return {"GREENLOOP_KEY_FD": str(self._key_r), "GREENLOOP_REPORT_FD": str(self._out_w)}

    def started(self) -> None:
        """Call once the child holds the fds: ours are closed so the pipe ends with the child."""
        os.close(self._key_r)
        os.close(self._out_w)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._out_r, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    self._accept(line)
                if len(buffer) > _MAX_RECORD or len(self.records) > _MAX_RECORDS:
                    # A flood is not a test run; keep draining so the writer never blocks, keep nothing.
                    self.problem = self.problem or "the result channel was flooded"
                    buffer = b""
                    self.records = self.records[:_MAX_RECORDS]
        if buffer.strip():
            self._accept(buffer)

    def _accept(self, line: bytes) -> None:
        mac, _, body = line.partition(b" ")
        good = hmac.new(self.key, body, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(mac, good):
            self.problem = self.problem or "a result record on greenloop's channel failed verification (forged)"
            return
        try:
            record = json.loads(body)
        except ValueError:
            self.problem = self.problem or "a result record could not be read"
            return
        expected = len(self.records) + 1
        if record.get("seq") != expected:
            self.problem = self.problem or "result records arrived out of order (replayed)"
            return
        if self.records and self.records[-1].get("t") == "finish":
            self.problem = self.problem or "result records arrived after pytest finished"
            return
        self.records.append(record)

    def wait(self, timeout: float = 10.0) -> None:
        """After the command ended: wait for the reader to drain what is left in the pipe."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def abandon(self) -> None:
        """The command never started: close everything."""
        for fd in (self._key_r, self._out_w):
            try:
                os.close(fd)
            except OSError:
                pass
        if not self._thread.is_alive():
            try:
                os.close(self._out_r)
            except OSError:
                pass


@dataclass
class Report:
    """The records of one run, grouped."""

    collected: list[str] | None = None
    files: list[str] = field(default_factory=list)
    rootdir: str = ""
    collect_errors: dict[str, str] = field(default_factory=dict)
    phases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    running: str | None = None  # the last test that started and did not finish
    finished: bool = False
    exit: int | None = None
    opened: list[str] = field(default_factory=list)
    duplicate: str = ""
    disorder: str = ""  # a test reported as passing outside its own start .. teardown


def group(records: list[dict[str, Any]]) -> Report:
    report = Report()
    for r in records:
        kind = r.get("t")
        if kind == "collected":
            report.collected = [str(i) for i in r.get("ids", [])]
            report.files = [str(f) for f in r.get("files", [])]
            report.rootdir = str(r.get("rootdir", ""))
        elif kind == "collecterror":
            report.collect_errors[str(r.get("id", ""))] = str(r.get("text", ""))
        elif kind == "start":
            report.running = str(r.get("id"))
        elif kind == "phase":
            test_id = str(r.get("id"))
            phases = report.phases.setdefault(test_id, [])
            if r.get("outcome") == "passed" and report.running != test_id:
                report.disorder = report.disorder or test_id
            if any(p.get("when") == r.get("when") for p in phases):
                report.duplicate = report.duplicate or test_id  # a test run twice in one session: re-run tricks
            phases.append(r)
            if r.get("when") == "teardown" and report.running == test_id:
                report.running = None
        elif kind == "finish":
            report.finished = True
            report.exit = int(r.get("exit", -1))
            report.opened = [str(p) for p in r.get("opened", [])]
    return report


def status_of(phases: list[dict[str, Any]]) -> tuple[TestStatus, bool, dict[str, Any] | None]:
    """(status, xfailed, the phase that decided it) from a test's setup/call/teardown records."""
    for p in phases:
        if p.get("outcome") == "failed":
            return (TestStatus.FAILED if p.get("when") == "call" else TestStatus.ERROR), False, p
    for p in phases:
        if p.get("outcome") == "skipped":
            return TestStatus.SKIPPED, bool(p.get("xfail")), p
    calls = [p for p in phases if p.get("when") == "call" and p.get("outcome") == "passed"]
    whens = [p.get("when") for p in phases]
    complete = "setup" not in whens or whens == ["setup", "call", "teardown"]  # pytest's phases, all, in order
    if calls and complete:
        # An xpass (non-strict) is recorded as passed with wasxfail: the test still passed.
        return TestStatus.PASSED, False, calls[0]
    return TestStatus.NOT_RUN, False, None


def _module_result(path: str, report: Report) -> TestResult:
    """A test module that could not be collected (or, for unittest, imported) at the baseline: green
    needs it collected now, with every test in it passed."""
    def inside(test_id: str) -> bool:
        return test_id.split("::")[0] == path or test_id.startswith(path + ".")

    ids = [i for i in report.phases if inside(i) and not i.startswith(_FAILED_IMPORT)]
    if path in report.collect_errors or _FAILED_IMPORT + path in report.phases or not ids:
        text = report.collect_errors.get(path, "") or "".join(
            str(p.get("text", "")) for p in report.phases.get(_FAILED_IMPORT + path, []))
        return TestResult(path, TestStatus.ERROR, "could not be collected (an error while importing the test "
                          "module or the code it imports)", traceback=text)
    statuses = [status_of(report.phases[i])[0] for i in ids]
    if all(s is TestStatus.PASSED for s in statuses):
        return TestResult(path, TestStatus.PASSED)
    return TestResult(path, TestStatus.FAILED, f"{sum(s is not TestStatus.PASSED for s in statuses)} of its tests "
                      "do not pass")


def judge(report: Report, expected: list[str], skipped_before: set[str] | None, *, exit_code: int,
          timed_out: bool, timeout: float, channel_problem: str, output: str, errors: tuple[str, ...] = ()) -> Outcome:
    """The Outcome of one run against the `expected` test ids (collected at the baseline) and the
    test modules that failed to collect then (`errors`). `skipped_before` is None for the baseline
    itself (its skips are what a skip means)."""
    tests: list[TestResult] = [_module_result(path, report) for path in errors]
    for test_id in expected:
        phases = report.phases.get(test_id, [])
        status, xfail, decided = status_of(phases)
        message = str(decided.get("message", "")) if decided else ""
        text = str(decided.get("text", "")) if decided else ""
        if status is TestStatus.SKIPPED and skipped_before is not None and test_id not in skipped_before:
            what = "xfailed" if xfail else "skipped"
            status, message = TestStatus.FAILED, (f"{what} now, but it ran at the baseline: skipping or xfailing a "
                                                  "test is not a fix")
        elif status is TestStatus.NOT_RUN:
            if timed_out and report.running == test_id:
                status, message = TestStatus.TIMEOUT, f"was running when the command timed out after {timeout:g}s"
            else:
                message = "never ran (the run stopped before it)"
        frames = "\n".join(f"{p}:{n}" for p, n in decided.get("frames", [])) if decided else ""
        tests.append(TestResult(test_id, status, message=message, traceback=text or frames, duration=float(
            decided.get("duration", 0.0)) if decided else 0.0))
    problem = channel_problem
    if not problem and report.duplicate:
        problem = f"{report.duplicate} reported more than once in one run"
    if not problem and report.disorder:
        problem = f"{report.disorder} reported a pass outside its own run (the result stream is out of order)"
    if not problem:
        if timed_out:
            running = f" (while running {report.running})" if report.running else ""
            problem = f"the command timed out after {timeout:g}s{running}"
        elif not report.finished:
            problem = (f"the test process ended (exit status {exit_code}) before pytest finished: an exit from "
                       "the code under test or a crash")
        elif exit_code != 0 and not any(t.status in (TestStatus.FAILED, TestStatus.ERROR) for t in tests):
            problem = f"the command exited with status {exit_code}"
    return Outcome(tuple(tests), 0.0, problem, output=output)
