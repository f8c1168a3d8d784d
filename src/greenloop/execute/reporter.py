"""The in-sandbox test reporter: a pytest plugin that judges each test itself and reports over a signed pipe.

Runs inside the forked child that also runs the candidate, so it trusts nothing the candidate can
reach: a test passes only if *this* module called the test function and saw it return, setup and
teardown raised nothing, and the function's code object is one compiled from the test file.
Records are signed with a per-run key, so text the candidate prints or writes is not a report.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import os
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from greenloop.execute.guard import EqualityGuard, rewrite_equality_asserts
from greenloop.execute.tracebacks import frames_and_locals

# Bound into each rewritten test module (see guard.rewrite_equality_asserts).
equality_guard = EqualityGuard(untrusted_dirs=("/nonexistent/",))
_trusted_code: set[types.CodeType] = set()
_test_paths: set[str] = set()
_TRACE_LIMIT = 1500


def install_assertion_hooks() -> None:
    """Patch pytest's module rewriting (in the worker, before any candidate exists)."""
    from _pytest.assertion import rewrite

    original_rewrite = rewrite.rewrite_asserts
    original_rewrite_test = rewrite._rewrite_test

    def rewrite_asserts(mod: Any, source: bytes, module_path: str | None = None, config: Any = None) -> None:
        if module_path in _test_paths:
            rewrite_equality_asserts(mod)
        original_rewrite(mod, source, module_path, config)

    cache: dict[tuple[str, bytes], Any] = {}

    def rewrite_test(fn: Any, config: Any) -> Any:
        if str(fn) not in _test_paths:
            return original_rewrite_test(fn, config)
        # The worker compiles the test file once; every child then imports the cached code.
        key = (str(fn), Path(fn).read_bytes())
        if key not in cache:
            cache[key] = original_rewrite_test(fn, config)
            _collect_code(cache[key][1])
        return cache[key]

    rewrite.rewrite_asserts = rewrite_asserts
    rewrite._rewrite_test = rewrite_test


def trust_test_path(path: str) -> None:
    """Mark `path` as the user's test file: its asserts get the guard and its code is trusted."""
    _test_paths.add(path)


def _collect_code(code: types.CodeType) -> None:
    _trusted_code.add(code)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _collect_code(const)


def signer(fd: int, key: bytes) -> Callable[[dict[str, Any]], None]:
    def send(record: dict[str, Any]) -> None:
        line = json.dumps(record)
        mac = hmac.new(key, line.encode(), hashlib.sha256).hexdigest()
        data = (line + "\t" + mac + "\n").encode()
        while data:
            data = data[os.write(fd, data):]

    return send


def format_exception(exc: BaseException, scratch: str) -> tuple[str, str, dict[str, str]]:
    """Message, trimmed traceback (candidate and test frames only) and the failing frame's locals."""
    if isinstance(exc, SystemExit):
        return f"the code called sys.exit({exc.code!r}) during the test", "", {}
    text = str(exc)
    text = text if len(text) <= 500 else text[:497] + "..."
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, SyntaxError) and exc.text:
        message += f"\n    {exc.text.strip()}"
    lines, local_values = frames_and_locals(exc.__traceback__, lambda name: name.startswith(scratch))
    # Raised in the split judge's candidate process: its frames and innermost locals came along.
    remote = exc.__dict__.get("__gl_remote__") if hasattr(exc, "__dict__") else None
    if isinstance(remote, tuple) and len(remote) == 2:
        if remote[0]:
            lines.append(str(remote[0]))
        if remote[1]:
            local_values = dict(remote[1])
    return message, "\n".join(lines)[-_TRACE_LIMIT:], local_values


def compact_error(text: str, keep: int = 8) -> str:
    """The informative tail of a pytest error report: source locations and `E` lines."""
    lines = [line.rstrip() for line in text.splitlines()]
    useful = [
        line.replace("INTERNALERROR> ", "") for line in lines
        if (line.startswith(("E ", "INTERNALERROR>")) or ".py:" in line) and line.strip("E ^~")
    ]
    useful = [line for line in useful if "site-packages" not in line and "importlib" not in line and "<frozen" not in line]
    return "\n".join(useful[-keep:])[-_TRACE_LIMIT:] or text[-_TRACE_LIMIT:]


@contextlib.contextmanager
def captured() -> Iterator[io.StringIO]:
    """What a test prints, for the feedback (pytest's own capturing is off: it is slow to set up)."""
    buffer = io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = buffer
    try:
        yield buffer
    finally:
        sys.stdout, sys.stderr = saved


class Recorder:
    """pytest plugin that decides each test's status from what it observed itself."""

    def __init__(self, send: Callable[[dict[str, Any]], None], scratch: str,
                 skippable: frozenset[str] | None = None) -> None:
        self.send = send
        self.scratch = scratch
        self.current: dict[str, Any] = {}
        # What the test file's own source marks skip (analysis.skip_marked): a mark added at run
        # time to anything else does not make a skip count. None: the source skips broadly.
        self.skippable = skippable

    def _skippable(self, item: Any) -> bool:
        if self.skippable is None:
            return True
        owner = getattr(getattr(item, "cls", None), "__name__", "")
        return getattr(item, "originalname", item.name) in self.skippable or owner in self.skippable

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.send({"kind": "collect-error", "message": compact_error(str(report.longrepr))})

    def internal_error(self, exc: BaseException) -> None:
        """The candidate broke collection (import error, exit at import): one collection error."""
        if isinstance(exc, SystemExit):
            message = f"the code called sys.exit({exc.code!r}) while the tests were being collected"
        else:
            message, trace, _ = format_exception(exc, self.scratch)
            message = f"{trace}\n{message}".strip()
        self.send({"kind": "collect-error", "message": message})

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        self.send({"kind": "collected", "ids": [item.nodeid for item in items]})

    def begin(self, item: Any) -> None:
        self.current = {"id": item.nodeid, "returned": False, "status": "not-run", "message": ""}
        self.send({"kind": "start", "id": item.nodeid})

    def end(self, output: str) -> None:
        self.current["output"] = output[-1000:]
        self.send({"kind": "test", **self.current})

    def phase_failed(self, item: Any, when: str, exc: BaseException) -> None:
        """Setup or teardown raised. A skip counts only where the test file asked for it (a mark)."""
        if self.current.get("status") == "error":
            return
        if (when == "setup" and isinstance(exc, pytest.skip.Exception)
                and any(any(item.iter_markers(name)) for name in ("skip", "skipif"))
                and self._skippable(item)):
            self.current.update(status="skipped", message=str(exc))
            return
        message, trace, _ = format_exception(exc, self.scratch)
        self.current.update(status="error", message=f"{when} failed: {message}", traceback=trace)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        self.begin(item)
        with captured() as output:
            try:
                return (yield)
            finally:
                self.end(output.getvalue())

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: Any) -> bool:
        # Call the test ourselves so a patched default implementation cannot skip it.
        function = pyfuncitem.obj
        code = getattr(getattr(function, "__func__", function), "__code__", None)
        filename = getattr(code, "co_filename", "")
        if code is None or (filename.startswith(self.scratch) and code not in _trusted_code):
            self.current.update(status="error", message="the test function was replaced at run time")
            raise RuntimeError("test function replaced")
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        equality_guard.last = None
        try:
            function(**args)
        except BaseException as exc:
            message, trace, local_values = format_exception(exc, self.scratch)
            detail = equality_guard.last if isinstance(exc, AssertionError) else None
            status = "failed" if isinstance(exc, AssertionError) else "error"
            self.current.update(status=status, message=message, traceback=trace, locals=local_values)
            if detail:
                self.current.update(
                    expression=detail["expression"], actual=detail["actual"], expected=detail["expected"],
                    message=detail["reason"] or f"{detail['expression']} returned {detail['actual']}, expected {detail['expected']}",
                )
            raise
        self.current.update(status="passed", returned=True)
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> Any:
        report = yield
        if call.excinfo is not None and call.when != "call":
            self.phase_failed(item, call.when, call.excinfo.value)
        if call.when == "call":
            self.current["duration"] = call.duration
        return report
