"""The zygote: one pristine sandboxed process that forks a worker per test file.

Starting a sandbox (bubblewrap, Python, pytest) costs hundreds of milliseconds; forking a
process that has all of it loaded costs about one. The zygote is started once per greenloop
process (per sandbox command) and never holds a test file: each worker it forks reads its tests
from its own socket, which greenloop hands the zygote as a descriptor. A pool's worker, and a
clean re-run's, is such a fork. The zygote also keeps pytest configured for a few scratch
directories ("slots"), so a worker whose test file has a standard name skips pytest's start-up.

Host side: `get(argv, sandboxed)` and `Zygote.spawn()`. Sandbox side: `serve(control)`.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from typing import Any

from greenloop.execute.outcome import ExecutorError
from greenloop.execute.sandbox import unsandboxed_env

_START_TIMEOUT = 60.0
_SLOTS_READY = 2  # slots configured up front; more are configured when that many workers live
_zygotes: dict[tuple[str, ...], Zygote] = {}
_lock = threading.Lock()


class Zygote:
    """greenloop's handle on a running zygote."""

    def __init__(self, argv: list[str], sandboxed: bool) -> None:
        self.sandboxed = sandboxed
        self.base = "/tmp/greenloop" if sandboxed else tempfile.mkdtemp(prefix="greenloop-zygote-")
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.stderr = tempfile.TemporaryFile()
        self.lock = threading.Lock()
        self.closed = False
        try:
            self.proc = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=subprocess.DEVNULL, stderr=self.stderr,
                                         start_new_session=True, env=None if sandboxed else unsandboxed_env(),
                                         cwd=None if sandboxed else self.base)
        except OSError as exc:
            raise ExecutorError(f"could not start a sandbox worker: {exc}") from exc
        finally:
            theirs.close()
        self.control.settimeout(_START_TIMEOUT)
        try:
            self.control.send(json.dumps({"base": self.base}).encode())
            ready = self.control.recv(4096)
        except OSError:
            ready = b""
        if ready != b"ready":
            why = self.why()
            self.close()
            raise ExecutorError(f"the sandbox worker failed to start: {why}")

    def spawn(self) -> socket.socket:
        """A new worker forked from the zygote; greenloop's end of its socket."""
        mine, theirs = socket.socketpair()
        with self.lock:
            try:
                socket.send_fds(self.control, [b"worker"], [theirs.fileno()])
                reply = self.control.recv(64)
            except OSError:
                reply = b""
            finally:
                theirs.close()
        if not reply:
            mine.close()
            why = self.why()
            self.close()  # so that `get` starts a new one rather than finding this one still exiting
            raise ExecutorError(f"the sandbox zygote is gone: {why}")
        return mine

    def alive(self) -> bool:
        return not self.closed and self.proc.poll() is None

    def why(self) -> str:
        code = self.proc.poll()
        try:
            self.stderr.seek(0)
            err = self.stderr.read().decode(errors="replace").strip().splitlines()
        except (OSError, ValueError):  # closed already
            err = []
        return f"exit status {code}" + (f": {err[-1]}" if err else "")

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.control.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        with contextlib.suppress(OSError, ValueError):
            self.stderr.close()
        if not self.sandboxed:
            shutil.rmtree(self.base, ignore_errors=True)


def get(argv: list[str], sandboxed: bool) -> Zygote:
    """The running zygote for this sandbox command, started (or restarted) if need be."""
    key = tuple(argv)
    with _lock:
        zygote = _zygotes.get(key)
        if zygote is not None and not zygote.alive():
            zygote.close()
            zygote = None
        if zygote is None:
            zygote = _zygotes[key] = Zygote(argv, sandboxed)
            if len(_zygotes) == 1:
                atexit.register(close_all)
        return zygote


def close_all() -> None:
    with _lock:
        for zygote in _zygotes.values():
            zygote.close()
        _zygotes.clear()


# -- inside the sandbox ----------------------------------------------------------------------------
def serve(control: socket.socket) -> None:  # pragma: no cover - runs in the zygote
    """Fork a worker per request (the request carries the worker's socket). Never returns."""
    from greenloop.execute import session, worker

    base = str(json.loads(control.recv(4096))["base"])
    slots: dict[int, Any] = {}  # slot number -> pytest session configured for its scratch directory
    busy: dict[int, int] = {}  # worker pid -> slot number

    def configure(number: int) -> None:
        scratch = os.path.join(base, f"slot-{number}", "run")
        os.makedirs(scratch, exist_ok=True)
        with open(os.path.join(scratch, ".pytest.ini"), "w") as f:
            f.write("[pytest]\n")
        slots[number] = session.prepare_directory(scratch)

    def fork_spare() -> tuple[int, socket.socket]:
        """A worker forked ahead of its request, its forker forked too: it waits for its socket."""
        free = [n for n in sorted(slots) if n not in busy.values()]
        if not free:
            configure(len(slots))
            free = [len(slots) - 1]
        number = free[0]
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                mine.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                forker = worker.Forker()  # before any test file exists in this process
                _message, fds, _flags, _addr = socket.recv_fds(theirs, 64, 1)
                theirs.close()
                if fds:
                    scratch = os.path.join(base, f"slot-{number}", "run")
                    worker.serve(socket.socket(fileno=fds[0]), (scratch, slots[number]),
                                 os.path.join(base, f"worker-{os.getpid()}"), forker)
            finally:
                os._exit(0)
        theirs.close()
        busy[pid] = number
        return pid, mine

    for number in range(_SLOTS_READY):
        configure(number)
    gc.collect()
    gc.freeze()
    spare = fork_spare()
    control.send(b"ready")
    while True:
        try:
            _message, fds, _flags, _addr = socket.recv_fds(control, 64, 1)
        except OSError:
            os._exit(0)
        if not fds:
            os._exit(0)
        _reap(busy)
        if base.startswith("/tmp/") and _tmpfs_half_full():
            os._exit(0)  # files candidates left hold the sandbox's memory: greenloop starts a fresh one
        if spare[0] not in busy:  # the spare died (a candidate of another worker killed it)
            spare[1].close()
            spare = fork_spare()
        pid, channel = spare
        try:
            socket.send_fds(channel, [b"worker"], [fds[0]])
        except OSError:
            pid = 0
        channel.close()
        os.close(fds[0])
        control.send(str(pid).encode() if pid else b"")
        spare = fork_spare()  # for the next request, while this worker starts


def _reap(busy: dict[int, int]) -> None:  # pragma: no cover - runs in the zygote
    """Reap exited workers (freeing their slots) and kill strays: orphans of dead workers."""
    from greenloop.execute.proctree import descendants

    ended = False
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        ended = busy.pop(pid, None) is not None or ended
    if not ended:
        return  # strays appear only when a worker ended
    workers = set(busy)
    for pid in descendants():
        if pid not in workers and not _under(pid, workers):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _tmpfs_half_full() -> bool:  # pragma: no cover - runs in the zygote
    st = os.statvfs("/tmp")
    return (st.f_blocks - st.f_bfree) * 2 > st.f_blocks


def _under(pid: int, roots: set[int]) -> bool:  # pragma: no cover - runs in the zygote
    """Whether `pid` descends from one of `roots` (walks up /proc; 64 levels at most)."""
    for _ in range(64):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                pid = int(f.read().rpartition(b")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid in roots:
            return True
        if pid <= 1:
            return False
    return False
