"""The in-sandbox test runner: runs pytest on one candidate and reports each test over a signed pipe.

Runs inside the forked child that also runs the candidate, so it trusts nothing the candidate can
reach: a test passes only if *this* module called the test function and saw it return, setup and
teardown raised nothing, and the function's code object is one compiled from the test file.
Records are signed with a per-run key, so text the candidate prints or writes is not a report.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any

import pytest

from greenloop.execute.guard import EqualityGuard, rewrite_equality_asserts, short_repr

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

    def rewrite_test(fn: Any, config: Any) -> Any:
        stat, co = original_rewrite_test(fn, config)
        if str(fn) in _test_paths:
            _collect_code(co)
        return stat, co

    rewrite.rewrite_asserts = rewrite_asserts
    rewrite._rewrite_test = rewrite_test


def _collect_code(code: types.CodeType) -> None:
    _trusted_code.add(code)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _collect_code(const)


def _signer(fd: int, key: bytes) -> Callable[[dict[str, Any]], None]:
    def send(record: dict[str, Any]) -> None:
        line = json.dumps(record)
        mac = hmac.new(key, line.encode(), hashlib.sha256).hexdigest()
        data = (line + "\t" + mac + "\n").encode()
        while data:
            data = data[os.write(fd, data):]

    return send


def _format_exception(exc: BaseException, scratch: str) -> tuple[str, str, dict[str, str]]:
    """Message, trimmed traceback (candidate and test frames only) and the failing frame's locals."""
    if isinstance(exc, SystemExit):
        return f"the code called sys.exit({exc.code!r}) during the test", "", {}
    message = f"{type(exc).__name__}: {short_repr(str(exc), 500).strip(chr(39))}" if str(exc) else type(exc).__name__
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(scratch)]
    lines = []
    for f in frames[-6:]:
        lines.append(f'  File "{os.path.basename(f.filename)}", line {f.lineno}, in {f.name}')
        if f.line:
            lines.append(f"    {f.line.strip()}")
    local_values: dict[str, str] = {}
    tb = exc.__traceback__
    innermost = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(scratch):
            innermost = tb.tb_frame
        tb = tb.tb_next
    if innermost is not None:
        for name, value in list(innermost.f_locals.items())[:12]:
            if not name.startswith("@"):
                local_values[name] = short_repr(value, 80)
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


class Recorder:
    """pytest plugin that decides each test's status from what it observed itself."""

    def __init__(self, send: Callable[[dict[str, Any]], None], scratch: str) -> None:
        self.send = send
        self.scratch = scratch
        self.current: dict[str, Any] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.send({"kind": "collect-error", "message": compact_error(str(report.longrepr))})

    def pytest_internalerror(self, excrepr: Any, excinfo: Any) -> None:
        exc = excinfo.value
        if isinstance(exc, SystemExit):
            message = f"the code called sys.exit({exc.code!r}) while the tests were being collected"
        else:
            message = compact_error(str(excrepr))
        self.send({"kind": "collect-error", "message": message})

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        self.send({"kind": "collected", "ids": [item.nodeid for item in items]})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        self.current = {"id": item.nodeid, "returned": False, "status": "not-run", "message": ""}
        self.send({"kind": "start", "id": item.nodeid})
        try:
            return (yield)
        finally:
            self.send({"kind": "test", **self.current})

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
            message, trace, local_values = _format_exception(exc, self.scratch)
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
        if call.excinfo is not None and call.when != "call" and self.current.get("status") != "error":
            exc = call.excinfo.value
            message, trace, _ = _format_exception(exc, self.scratch)
            self.current.update(status="error", message=f"{call.when} failed: {message}", traceback=trace)
        if call.when == "call":
            self.current["output"] = (getattr(report, "capstdout", "") + getattr(report, "capstderr", ""))[-1000:]
            self.current["duration"] = call.duration
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        self.send({"kind": "done", "exitstatus": int(exitstatus)})


def run(scratch: str, test_path: str, result_fd: int, key: bytes, collect_only: bool = False) -> None:
    """Run pytest on `test_path` inside `scratch`; called in the forked child."""
    send = _signer(result_fd, key)
    equality_guard.untrusted_dirs = (scratch.rstrip("/") + "/",)
    scratch = scratch.rstrip("/") + "/"
    _test_paths.add(test_path)
    args = [
        test_path, "-q", "-p", "no:cacheprovider", "--noconftest", "--rootdir", scratch,
        "-c", os.path.join(scratch, ".pytest.ini"), "-o", "addopts=", "--capture=sys",
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
    ]
    if collect_only:
        args.append("--collect-only")
    recorder = Recorder(send, scratch)
    try:
        pytest.main(args, plugins=[recorder])
    except BaseException as exc:  # the candidate may raise SystemExit past pytest
        send({"kind": "runner-error", "message": f"{type(exc).__name__}: {short_repr(exc, 200)}"})
    send({"kind": "exit"})
    sys.stdout.flush()
    os._exit(0)
