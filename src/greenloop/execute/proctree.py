"""The worker's hold on the processes below it: it is their subreaper, so every descendant of a
candidate (setsid or not, orphaned or not) stays in its tree, where it can be measured and killed."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from collections.abc import Callable

_PR_SET_CHILD_SUBREAPER = 36
_PAGE = os.sysconf("SC_PAGE_SIZE")


def set_subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:  # not Linux: orphans are then found by process group only
        pass


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def descendants() -> dict[int, int]:
    """pid -> resident bytes for every process below this worker (walks only our own subtree)."""
    found: dict[int, int] = {}
    frontier = _children(os.getpid())
    while frontier:
        pid = frontier.pop()
        if pid in found:
            continue
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                found[pid] = int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            found[pid] = 0
        frontier.extend(_children(pid))
    return found


def kill_until_gone(kill: Callable[[], None], spare: int = 0, alive: Callable[[int], bool] = lambda pid: True,
                    seconds: float = 10.0) -> None:
    """Call `kill` (a job's own kills), reap, and SIGKILL every other descendant but `spare`, until two
    walks of the tree in a row find none `alive` (an orphan being reparented, its parent exiting,
    can be in neither parent's list while one walk passes), for as long as a loaded machine needs
    to let the dying run, up to `seconds`."""
    empty, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        kill()
        reap()
        empty = empty + 1 if kill_descendants(spare, alive) else 0
        if empty == 2:
            return
        time.sleep(0.001 if empty else 0.002)


def kill_tree(pgid: int) -> None:
    """Kill the child's process group and every other descendant, then reap them."""

    def kill() -> None:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(pgid, signal.SIGKILL)
            os.waitpid(pgid, 0)  # the child itself, killed: wait for it rather than poll
        except (ChildProcessError, ProcessLookupError):
            pass

    kill_until_gone(kill)


def kill_descendants(spare: int = 0, alive: Callable[[int], bool] = lambda pid: True) -> bool:
    """SIGKILL every descendant but `spare` that `alive` says is still running; True when there
    was none left to kill."""
    left = [pid for pid in descendants() if pid != spare and alive(pid)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return not left


def reap() -> None:
    """Collect every child that has exited, without waiting for the others."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
