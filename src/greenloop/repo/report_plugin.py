"""The pytest plugin greenloop loads into the user's test command (`-p _greenloop_report`).

It streams what pytest collects and each test phase's result, as it happens, over a pipe that
greenloop opened before the command started; each record is signed with a key read from a second
pipe at load time (before any conftest or code under test is imported), so code under test can
neither rewrite a result after the fact (as it could a JUnit file written at exit) nor forge one.
The trusted side reads the records as they arrive (`repo/results.py`).

This file is copied into a private directory under the name `_greenloop_report` and imported by
the project's own interpreter, which may not have greenloop installed: it imports nothing of
greenloop, and only the standard library.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from typing import Any

_FD = int(os.environ.pop("GREENLOOP_REPORT_FD", "-1"))
_KEY = b""
if _FD >= 0:
    os.set_inheritable(_FD, False)  # processes the tests start do not get the channel
    _key_fd = int(os.environ.pop("GREENLOOP_KEY_FD", "-1"))
    if _key_fd >= 0:
        _KEY = os.read(_key_fd, 256)
        os.close(_key_fd)
_AUDIT = os.environ.pop("GREENLOOP_AUDIT", "") == "1"
_seq = 0
_opened: set[str] = set()
_running = False


def send(record: dict[str, Any]) -> None:
    """Write one signed record: `MAC JSON\\n`, numbered so that a replay or a gap shows."""
    global _seq
    if _FD < 0:
        return
    _seq += 1
    record["seq"] = _seq
    line = json.dumps(record, default=str)
    mac = hmac.new(_KEY, line.encode(), hashlib.sha256).hexdigest()
    data = f"{mac} {line}\n".encode()
    while data:
        data = data[os.write(_FD, data):]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Files opened while tests run are test data (expected values), which a fix may not rewrite.
    if event == "open" and _running and isinstance(args[0], str) and len(_opened) < 5000:
        _opened.add(os.path.abspath(args[0]))


if _AUDIT and _FD >= 0:
    sys.addaudithook(_audit)


def _frames(report: Any) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    chain = getattr(report.longrepr, "chain", None)
    parts = [c[0] for c in chain] if chain else [getattr(report.longrepr, "reprtraceback", None)]
    for tb in parts:
        for entry in getattr(tb, "reprentries", None) or []:
            loc = getattr(entry, "reprfileloc", None)
            if loc is not None:
                found.append((str(loc.path), int(loc.lineno)))
    return found


def _message(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # a skip: (path, line, reason)
        return str(report.longrepr[2])
    return ""


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        send({"t": "collecterror", "id": report.nodeid, "text": str(report.longreprtext)[-3000:]})


def pytest_collection_finish(session: Any) -> None:
    items = session.items
    send({"t": "collected", "ids": [i.nodeid for i in items], "files": sorted({str(i.path) for i in items}),
          "rootdir": str(session.config.rootpath)})


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    global _running
    _running = True
    send({"t": "start", "id": nodeid})


def pytest_runtest_logreport(report: Any) -> None:
    send({"t": "phase", "id": report.nodeid, "when": report.when, "outcome": report.outcome,
          "xfail": hasattr(report, "wasxfail"), "message": _message(report)[:600],
          "text": str(report.longreprtext)[-4000:] if report.failed else "", "frames": _frames(report),
          "duration": float(getattr(report, "duration", 0.0))})


def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    global _running
    _running = False
    send({"t": "finish", "exit": int(exitstatus), "opened": sorted(_opened)})
