"""Per-test results from the JUnit XML report pytest writes (`--junitxml`, injected by greenloop).

Test cases are matched to the ids collected before the loop started, so a run that stops early
(`-x`, a crash) reports the tests it never reached as not run instead of shrinking the total.
Tracebacks are trimmed to the frames in the repository: those are what the model can change.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from greenloop.execute import TestResult, TestStatus

_TRACE_LINES = 14
_FRAME = re.compile(r"^(?P<path>[^\s:][^:]*\.py):(?P<line>\d+): ")
_PY_FRAME = re.compile(r'^E?\s*File "(?P<path>[^"]+\.py)", line (?P<line>\d+)')


def mangle(nodeid: str) -> tuple[str, str]:
    """(classname, name) as pytest's junitxml writes them for this node id."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def _outside(path: str, roots: tuple[str, ...]) -> bool:
    if "site-packages/" in path or path.startswith("<"):
        return True
    return path.startswith("/") and not path.startswith(tuple(r.rstrip("/") + "/" for r in roots))


def trim_traceback(text: str, roots: tuple[str, ...]) -> str:
    """Keep frames in the repository (`roots`: where it is) and the `E` lines; drop site-packages,
    stdlib and frozen frames."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        frame = _FRAME.match(line)
        if frame or line.startswith("<frozen"):
            path = frame.group("path") if frame else "<frozen>"
            skipping = _outside(path, roots)
            if skipping:
                continue
        elif skipping and not line.startswith("E "):
            continue
        kept.append(line.rstrip())
    if len(kept) > _TRACE_LINES:
        kept = kept[:3] + ["..."] + kept[-(_TRACE_LINES - 4):]
    return "\n".join(kept)


@dataclass(frozen=True)
class JunitReport:
    results: list[TestResult]
    skipped: set[str]  # ids of skipped tests: neither passed nor failing


def parse_junit(xml_text: str, known: dict[tuple[str, str], str], roots: tuple[str, ...] = ()) -> JunitReport:
    """Results in report order; `known` maps mangled (classname, name) to collected node ids."""
    root = ET.fromstring(xml_text)
    results: list[TestResult] = []
    skipped: set[str] = set()
    for case in root.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        test_id = known.get((classname, name))
        if test_id is None:
            file = case.get("file")
            test_id = f"{file}::{name}" if file and classname else (file or f"{classname}::{name}".strip(":"))
        try:
            duration = float(case.get("time", "0") or 0)
        except ValueError:
            duration = 0.0
        problem = case.find("failure")
        status = TestStatus.FAILED
        if problem is None:
            problem = case.find("error")
            status = TestStatus.ERROR
        if problem is None:
            if case.find("skipped") is not None:
                skipped.add(test_id)
            else:
                results.append(TestResult(test_id, TestStatus.PASSED, duration=duration))
            continue
        message = (problem.get("message") or "").strip()
        trace = trim_traceback(problem.text or "", roots)
        if not classname and message == "collection failure":
            message = "could not be collected (an error while importing the test module or the code it imports)"
        results.append(TestResult(test_id, status, message=message[:600], traceback=trace, duration=duration))
    return JunitReport(results, skipped)


def frames(text: str) -> list[tuple[str, int]]:
    """(path, line) of each frame in a pytest short traceback or a Python traceback, outermost first."""
    found: list[tuple[str, int]] = []
    for line in text.splitlines():
        m = _FRAME.match(line) or _PY_FRAME.match(line)
        if m:
            found.append((m.group("path"), int(m.group("line"))))
    return found
