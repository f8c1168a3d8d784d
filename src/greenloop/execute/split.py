"""The judge child of the split judge: the tests run here, the candidate in its own process.

The target module the tests import is a proxy (proxy.py) of the candidate module, loaded in the
candidate process over `call`. Fast path: the worker collected the tests already; the proxy is
built and the test module rebound to it. Full path: the proxy is the module pytest's collection
imports; its first attribute read empties the test file (it has been read and compiled by then)
and only then loads the candidate, so no candidate code runs while the file exists.
"""

from __future__ import annotations

import os
import socket
import sys
import types
from typing import Any

from greenloop.execute import proxy, session, wire
from greenloop.execute.reporter import signer


def run(pytest_session: Any, bindings: dict[str, str] | None, target: str, test_path: str, test_source: str,
        candidate_path: str, code: str, call: socket.socket, result_fd: int, key: bytes, collect_only: bool) -> None:
    """Run the tests against the candidate behind `call`. Never returns."""
    if bindings is None:
        with open(test_path, "w") as f:  # for this collection only (see the worker's _write_files)
            f.write(test_source)
    if collect_only:
        sys.modules[target] = _placeholder(target)
        session.run_full(pytest_session, result_fd, key, True)
    send = signer(result_fd, key)
    remote = proxy.connect(wire.Peer(call, lambda request: []), target,
                           lambda why: send({"kind": "runner-error", "message": why}),
                           lambda why: send({"kind": "needs-shared", "message": why}))
    if bindings is not None:
        session.run_fast(pytest_session, bindings, target, "", result_fd, key,
                         lambda: proxy.load(remote, code, candidate_path))
    module = types.ModuleType(target)
    failed: list[BaseException] = []

    def first_read(name: str) -> Any:
        if failed:
            raise failed[0]
        try:
            os.truncate(test_path, 0)  # emptied, not removed: pytest checks the module's file is the one it collected
        except OSError:
            pass
        try:
            proxy.load(remote, code, candidate_path, module)
        except BaseException as exc:
            failed.append(exc)
            raise
        return getattr(module, name)

    module.__getattr__ = first_read  # type: ignore[method-assign]
    sys.modules[target] = module
    session.run_full(pytest_session, result_fd, key, False)


def _placeholder(target: str) -> types.ModuleType:
    """Collection without a candidate (the expected test ids): the judge's own placeholder."""
    from greenloop.execute.worker import PLACEHOLDER_MODULE

    module = types.ModuleType(target)
    exec(compile(PLACEHOLDER_MODULE, "<placeholder>", "exec"), module.__dict__)  # noqa: S102 - our own code
    return module
