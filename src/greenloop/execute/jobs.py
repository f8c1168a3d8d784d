"""A job's processes, seen from the worker: measuring, killing and reaping them, and readying a
standby child before its job arrives."""

from __future__ import annotations

import ctypes
import os
import select
import signal

from greenloop.execute.proctree import kill_until_gone

_MADV_POPULATE_WRITE = 23
_PREFAULT_CHUNK = 64 * os.sysconf("SC_PAGE_SIZE")


def tmpfs_bytes() -> int:
    from greenloop.execute.sandbox import tmpfs_used_bytes

    return tmpfs_used_bytes()


def kill_job(judge: int, candidate: int, forker: int) -> None:
    """Kill the job's judge and candidate process groups and every other descendant of the
    worker but the forker, then reap what is the worker's to reap."""

    def kill() -> None:
        for pid in (judge, candidate):
            if pid:
                for signal_it in (os.killpg, os.kill):
                    try:
                        signal_it(pid, signal.SIGKILL)
                    except OSError:
                        pass
        try:
            os.waitpid(judge, 0)
        except ChildProcessError:
            pass

    kill_until_gone(kill, spare=forker, alive=_alive)


def _alive(pid: int) -> bool:
    """Not a zombie (a killed candidate waits for the forker, its parent, to reap it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def prefault(job_fd: int) -> None:  # pragma: no cover - runs in the child
    """Copy the worker's writable memory into this child while it waits for its job.

    A forked child shares the worker's pages until it writes to them; running a candidate writes
    to a few hundred (reference counts are writes), and each first write is a copy-on-write fault
    on the critical path (~1 ms in all, measured). Faulting them in ahead of the job
    (MADV_POPULATE_WRITE, Linux >= 5.14) moves that cost into the time the model takes. Stops as
    soon as the job arrives, so back-to-back jobs never wait for it. The child's private memory
    grows by the worker's resident size (~26 MB); the memory limit, which counts resident pages,
    counted them already as shared ones."""
    try:
        with open("/proc/self/maps") as f:
            lines = f.read().splitlines()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    except (OSError, AttributeError):
        return
    for line in lines:
        fields = line.split()
        # Private writable mappings: the heap, Python's arenas, modules' data. Not the stack.
        if fields[1] != "rw-p" or fields[-1] in ("[stack]", "[vvar]", "[vdso]"):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        for chunk in range(start, end, _PREFAULT_CHUNK):
            if select.select([job_fd], [], [], 0)[0]:
                return
            if libc.madvise(chunk, min(_PREFAULT_CHUNK, end - chunk), _MADV_POPULATE_WRITE) != 0:
                return  # an older kernel: nothing to gain
