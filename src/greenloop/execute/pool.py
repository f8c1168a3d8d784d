"""The parent side of execution: a pool of warm sandboxed workers serving one test file.

A pool is made for one test suite (a different test file gets a different pool), keeps up to
`size` workers, hands each candidate to an idle one, replaces a worker that died or has served
many candidates, and closes workers left idle too long.
"""

from __future__ import annotations

import ast
import collections
import json
import os
import queue
import selectors
import socket
import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from greenloop.errors import BadInput
from greenloop.execute import zygote
from greenloop.execute.analysis import fast_bindings, split_problem
from greenloop.execute.outcome import ExecutorError, Limits, Outcome, TestResult, TestStatus
from greenloop.execute.sandbox import worker_command
from greenloop.execute.worker import PLACEHOLDER_MODULE

_START_TIMEOUT = 60.0
# A worker enforces the time limit itself and answers within milliseconds of it; one that has not
# answered by then was stopped or starved (a candidate can SIGSTOP same-uid processes where the
# kernel has no Landlock signal scope): its whole sandbox is killed and the candidate timed out.
_REPLY_MARGIN = 5.0


@dataclass(frozen=True)
class TestSuite:
    """The tests a pool runs: the file's text, its file name, and the module it imports."""

    __test__ = False

    source: str
    filename: str
    target_module: str

    def preimports(self) -> list[str]:
        """Top-level modules the tests import, other than the target: warmed in the worker."""
        names: set[str] = set()
        for node in ast.walk(ast.parse(self.source)):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        names.discard(self.target_module)
        return sorted(names)


class _WorkerDied(Exception):
    def __init__(self, why: str, silent: bool = False) -> None:
        super().__init__(why)
        self.silent = silent  # alive, maybe, but no answer in time


_commands: dict[tuple[Any, str], tuple[list[str], bool]] = {}


def _command() -> tuple[list[str], bool]:
    """`worker_command()`, built once (~2 ms: the sandbox's argv, the filter's bytes) per setting."""
    key = (worker_command, os.environ.get("GREENLOOP_SANDBOX", ""))
    if key not in _commands:
        _commands[key] = worker_command()
    return _commands[key]


class _Worker:
    """greenloop's side of one worker: a fork of the zygote, spoken to over a socket."""

    def __init__(self, suite: TestSuite, limits: Limits, fast: bool, judge: str) -> None:
        argv, self.sandboxed = _command()
        self.judge = judge
        self.channel: socket.socket | None = None
        for attempt in range(2):
            self.zygote = the_zygote = zygote.get(argv, self.sandboxed)
            try:
                self.channel = the_zygote.spawn()
                break
            except ExecutorError:
                if attempt:
                    raise  # a fresh zygote could not fork either
        assert self.channel is not None
        self.replies = self.channel.makefile("rb")
        self.jobs = 0
        self.last_used = time.monotonic()
        self.dead = False
        task = {"test_name": suite.filename, "test_source": suite.source, "target_module": suite.target_module,
                "preimport": suite.preimports(), "fast": fast,
                "limits": asdict(limits), "judge": judge, "sandboxed": self.sandboxed}
        try:
            reply = self.request(task, _START_TIMEOUT)
        except _WorkerDied as exc:
            self.close()
            raise ExecutorError(f"the sandbox worker failed to start: {exc}") from exc
        if not reply.get("ready"):
            self.close()
            raise ExecutorError(f"the sandbox worker failed to start: {reply.get('error', reply)}")
        self.collected: dict[str, Any] | None = None  # the fast path's expected ids, collected at start
        if "collected" in reply:
            problem = f"collection failed: {reply['problem']}" if reply.get("problem") else ""
            self.collected = {"tests": [], "collected": reply["collected"], "problem": problem}

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.channel is not None
        try:
            self.channel.sendall((json.dumps(message) + "\n").encode())
        except OSError as exc:
            self.dead = True
            raise _WorkerDied("the worker is gone") from exc
        with selectors.DefaultSelector() as sel:
            sel.register(self.channel, selectors.EVENT_READ)
            if not sel.select(timeout):
                self.close()
                raise _WorkerDied(f"no answer within {timeout:.0f}s", silent=True)
        try:
            line = self.replies.readline()
        except OSError:
            line = b""
        if not line:
            self.dead = True
            raise _WorkerDied("the worker exited")
        self.last_used = time.monotonic()
        return dict(json.loads(line))

    def alive(self) -> bool:
        return not self.dead

    def close(self) -> None:
        """Closing its socket ends the worker (it reads end-of-file) and with it its processes."""
        self.dead = True
        for closable in (self.replies if self.channel else None, self.channel):
            if closable is not None:
                try:
                    closable.close()
                except OSError:
                    pass


class WorkerPool:
    """Runs candidates for one `TestSuite` on warm workers. Thread-safe; use as a context manager."""

    def __init__(self, suite: TestSuite, limits: Limits | None = None, size: int = 1,
                 max_jobs_per_worker: int = 500, idle_seconds: float = 120.0, fast: bool = True,
                 judge: str = "auto") -> None:
        """`fast=False` collects the tests afresh in every child (pytest's full path): slower,
        and independent of the collect-once fast path, which is why verification uses it.
        `judge`: `split` runs the tests in a process apart from the candidate's, `shared` in
        the same one; `auto` splits unless the tests need the shared process (analysis.py)."""
        if judge not in ("auto", "split", "shared"):
            raise ValueError(f"judge must be auto, split or shared, not {judge!r}")
        self.suite = suite
        self.fast = fast
        self.judge_reason = split_problem(suite.source, suite.target_module) if judge == "auto" else ""
        self.judge = ("shared" if self.judge_reason else "split") if judge == "auto" else judge
        self.auto = judge == "auto"
        if judge == "shared":
            self.judge_reason = "asked for"
        # Tests that use the target at import time (e.g. parametrized over its values) collect
        # differently per candidate, so the placeholder's test ids do not bind them.
        self.ids_are_fixed = fast_bindings(suite.source, suite.target_module) is not None
        self.limits = limits or Limits()
        self.size = max(1, size)
        self.max_jobs = max_jobs_per_worker
        self.idle_seconds = idle_seconds
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._count = 0
        self._lock = threading.Lock()
        self._expected: list[str] | None = None
        self._closed = threading.Event()
        self.started = 0  # workers started over the pool's life
        self._reaper: threading.Thread | None = None
        self.sandboxed: bool | None = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def workers(self) -> int:
        return self._count

    def _acquire(self) -> _Worker:
        while True:
            with self._lock:
                try:
                    idle = self._idle.get_nowait()
                    if idle.judge == self.judge:
                        return idle
                    idle.close()
                    self._count -= 1
                    continue
                except queue.Empty:
                    pass
                if self._count < self.size:
                    self._count += 1
                    try:
                        worker = _Worker(self.suite, self.limits, self.fast, self.judge)
                    except BaseException:
                        self._count -= 1
                        raise
                    self.sandboxed = worker.sandboxed
                    self.started += 1
                    self._start_reaper()
                    return worker
            try:
                idle = self._idle.get(timeout=0.05)
            except queue.Empty:
                continue
            if idle.judge == self.judge:
                return idle
            self._release(idle, healthy=False)

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if (healthy and not self._closed.is_set() and worker.jobs < self.max_jobs and worker.alive()
                and worker.judge == self.judge):
            self._idle.put(worker)
            return
        worker.close()
        with self._lock:
            self._count -= 1

    def _start_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap_idle, name="greenloop-pool-reaper", daemon=True)
            self._reaper.start()

    def _reap_idle(self) -> None:
        """Shrink the pool while it is idle: a worker unused for `idle_seconds` is closed."""
        while not self._closed.wait(min(5.0, self.idle_seconds / 2)):
            with self._lock:
                keep: list[_Worker] = []
                while not self._idle.empty():
                    worker = self._idle.get_nowait()
                    if time.monotonic() - worker.last_used > self.idle_seconds:
                        worker.close()
                        self._count -= 1
                    else:
                        keep.append(worker)
                for worker in reversed(keep):
                    self._idle.put(worker)

    def _job(self, code: str, collect_only: bool = False) -> dict[str, Any]:
        """One job on some worker; a worker that dies is replaced and the job retried once."""
        job = {"code": code, "collect_only": collect_only}
        why = ""
        for _attempt in range(2):
            worker = self._acquire()
            worker.jobs += 1
            try:
                reply = worker.request(job, self.limits.timeout + _REPLY_MARGIN)
            except _WorkerDied as exc:
                why = str(exc)
                self._release(worker, healthy=False)
                if exc.silent:
                    # Killed host-side with everything in its sandbox (the zygote too: a candidate
                    # that stopped its worker may have stopped every process there); the next
                    # worker starts from a fresh zygote. The candidate is not run again.
                    worker.zygote.close()
                    return {"tests": [], "problem": f"the candidate timed out: its worker gave {why} and was killed"}
                continue
            self._release(worker, healthy=not reply.get("infrastructure"))
            return reply
        # A fresh worker dying on the same candidate twice is the candidate's doing (it killed it).
        return {"tests": [], "problem": f"the sandbox worker died twice running this candidate ({why})"}

    def expected_ids(self) -> list[str]:
        """Test ids collected against a placeholder target: what every candidate must pass."""
        if self._expected is None:
            worker = self._acquire()
            started = worker.collected
            self._release(worker, healthy=True)
            reply = started if started is not None else self._job(PLACEHOLDER_MODULE, collect_only=True)
            problem = reply.get("problem", "")
            if reply.get("infrastructure"):
                raise ExecutorError(problem)
            if "collection failed" in problem:
                raise CollectionError(problem.split("collection failed: ", 1)[1])
            self._expected = list(reply.get("collected", []))
        return self._expected

    def run(self, code: str) -> Outcome:
        expected = self.expected_ids()
        reply = self._job(code)
        if reply.get("needs_shared") and self.judge == "split" and self.auto:
            # A first trial showed the tests pass the candidate something that cannot cross:
            # from now on these tests run with the shared judge (the split workers are dropped).
            self.judge, self.judge_reason = "shared", f"a first run found: {reply['needs_shared']}"
            return self.run(code)
        outcome = replace(Outcome.from_dict(reply), judge=self.judge, judge_reason=self.judge_reason)
        seen = {t.test_id for t in outcome.tests}
        if self.ids_are_fixed:
            missing = [t for t in expected if t not in seen]
        else:
            # Tests that use the target at import time may be parametrized differently per
            # candidate; every test function collected against the placeholder must still be
            # there, with at least as many cases (the placeholder's values give one case, the
            # tests' own lists all of theirs, which a candidate could otherwise shorten).
            want = collections.Counter(_base(t) for t in expected)
            got = collections.Counter(_base(t) for t in seen)
            missing = [f"{base}[case {i + 1} of {count}]" if count > 1 else base
                       for base, count in sorted(want.items()) for i in range(got[base], count)]
        if missing and not outcome.infrastructure:
            extra = tuple(TestResult(t, TestStatus.NOT_RUN, "never ran") for t in missing)
            problem = outcome.problem or f"{len(missing)} expected test(s) were not collected"
            outcome = replace(outcome, tests=outcome.tests + extra, problem=problem)
        return outcome

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            while not self._idle.empty():
                self._idle.get_nowait().close()
                self._count -= 1
        if self._reaper is not None:
            self._reaper.join()


def _base(test_id: str) -> str:
    """A test id without its parameters: `test_x.py::test_f[1-2]` -> `test_x.py::test_f`."""
    return test_id.split("[", 1)[0]


class CollectionError(BadInput):
    """The tests cannot be collected even against a placeholder target."""
