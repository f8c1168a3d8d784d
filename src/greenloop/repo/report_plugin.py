"""The pytest plugin greenloop loads into the user's test command (`-p <random name>`).

It streams what pytest collects and each test phase's result, as it happens, over a pipe that
greenloop opened before the command started; each record is signed with a key read from a second
pipe at load time (before any conftest or code under test is imported), so code under test can
neither rewrite a result after the fact (as it could a JUnit file written at exit) nor forge one.
The trusted side reads the records as they arrive (`repo/results.py`).

Code under test runs in the same process, so nothing of the channel is reachable as a Python
object it could find by name: the module gets a random name per run and leaves `sys.modules` as
pytest registers it; the pipe, the key and the writer live only in closures of the hook functions.

This file is copied into a private directory under that random name and imported by the project's
own interpreter, which may not have greenloop installed: it imports nothing of greenloop, and only
the standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Any


def _channel() -> tuple[Any, Any]:
    """(send, take) over this run's pipe. The fd, the key and every function they call are bound
    here, once, at load (before any code under test is imported) and live only in this closure:
    no module global holds them, and code under test that later patches `json`, `hmac`, `hashlib`
    or `os` changes nothing of what is written or how it is signed."""
    environ = os.environ
    fd = int(environ.pop("GREENLOOP_REPORT_FD", "-1"))
    key_fd = int(environ.pop("GREENLOOP_KEY_FD", "-1"))
    audit = environ.pop("GREENLOOP_AUDIT", "") == "1"
    key = b""
    if fd >= 0:
        os.set_inheritable(fd, False)  # processes the tests start do not get the channel
        if key_fd >= 0:
            key = os.read(key_fd, 256)
            os.close(key_fd)
    # HMAC-SHA256 by hand, from the C hash alone (hmac.HMAC is a Python class a patch could reach).
    sha256, write, fsdecode, abspath = hashlib.sha256, os.write, os.fsdecode, os.path.abspath
    block = key.ljust(64, b"\0") if len(key) <= 64 else sha256(key).digest().ljust(64, b"\0")
    inner, outer = bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)
    del key, block
    quote = json.encoder.encode_basestring_ascii
    type_, str_, repr_, sorted_, len_ = type, str, repr, sorted, len
    seq = [0]
    opened: set[str] = set()
    taken = [False]

    def dumps(value: Any) -> str:
        kind = type_(value)
        if kind is str:
            return str_(quote(value))
        if value is None or value is True or value is False:
            return {None: "null", True: "true", False: "false"}[value]
        if kind is int:
            return repr_(value)
        if kind is float:
            return repr_(value) if value == value and value not in (float("inf"), float("-inf")) else "null"
        if kind is dict:
            return "{" + ", ".join(str_(quote(str_(k))) + ": " + dumps(v) for k, v in value.items()) + "}"
        if kind is list or kind is tuple:
            return "[" + ", ".join(dumps(v) for v in value) + "]"
        return str_(quote(str_(value)))

    def send(record: dict[str, Any]) -> None:
        """Write one signed record: `MAC JSON\\n`, numbered so that a replay or a gap shows."""
        if fd < 0:
            return
        seq[0] += 1
        record["seq"] = seq[0]
        if record.get("t") == "finish":
            record["opened"] = sorted_(opened)
        line = dumps(record).encode()
        mac = sha256(outer + sha256(inner + line).digest()).hexdigest()
        data = mac.encode() + b" " + line + b"\n"
        while data:
            data = data[write(fd, data):]

    def take() -> Any:
        """The writer, once (the unittest runner, at its start); None to anyone after."""
        if taken[0]:
            return None
        taken[0] = True
        return send

    def on_audit(event: str, args: tuple[Any, ...]) -> None:
        # Files opened from the plugin's load on (collection included: a test module reading its
        # expected values at import) are test data, which a fix may not rewrite.
        if event == "open" and len_(opened) < 5000 and type_(args[0]) in (str, bytes):
            path = abspath(fsdecode(args[0]))
            if not path.endswith(code) and not path.startswith(system):
                opened.add(path)

    code = (".py", ".pyc")
    system = tuple({p.rstrip("/") + "/" for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)} | {"/dev/", "/proc/"})
    if audit and fd >= 0:
        sys.addaudithook(on_audit)
    return send, take


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


def _hooks(name: str) -> dict[str, Any]:
    """pytest's hooks, as closures over the channel: the module holds no `send` to wrap."""
    send, take = _channel()
    modules, frames_of, message_of = sys.modules, _frames, _message

    def pytest_addhooks(pluginmanager: Any) -> None:
        # Called as pytest registers this module, before any conftest or test module is imported:
        # from then on no import and no `sys.modules` lookup reaches it, and no one can take the writer.
        take()
        modules.pop(name, None)

    def pytest_collectreport(report: Any) -> None:
        if report.failed:
            send({"t": "collecterror", "id": report.nodeid, "text": str(report.longreprtext)[-3000:]})

    def pytest_collection_finish(session: Any) -> None:
        items = session.items
        send({"t": "collected", "ids": [i.nodeid for i in items], "files": sorted({str(i.path) for i in items}),
              "rootdir": str(session.config.rootpath)})

    def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
        send({"t": "start", "id": nodeid})

    def pytest_runtest_logreport(report: Any) -> None:
        send({"t": "phase", "id": report.nodeid, "when": report.when, "outcome": report.outcome,
              "xfail": hasattr(report, "wasxfail"), "message": message_of(report)[:600],
              "text": str(report.longreprtext)[-4000:] if report.failed else "", "frames": frames_of(report),
              "duration": float(getattr(report, "duration", 0.0))})

    def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
        send({"t": "finish", "exit": int(exitstatus)})

    hooks = {k: v for k, v in locals().items() if k.startswith("pytest_")}
    hooks["take"] = take
    return hooks


# Calling `_channel` again gives nothing: the fds' numbers left the environment at the first call.
globals().update(_hooks(__name__))
