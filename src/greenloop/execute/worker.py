"""The long-lived worker that runs inside the sandbox and forks one child per candidate.

Protocol: JSON lines. The first line on stdin is the task (test source, names, modules to
pre-import); each later line is a job (`code`, `limits`, `collect_only`), answered by one line with
an `Outcome` dict. The worker is the trusted side: it enforces the time, memory and process
limits from outside the child, verifies the child's signed records and kills every process the
child left behind before it answers.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import importlib
import json
import os
import resource
import select
import shutil
import signal
import sys
import time
from typing import Any

_PR_SET_CHILD_SUBREAPER = 36
_PAGE = os.sysconf("SC_PAGE_SIZE")
_OUTPUT_LIMIT = 2000


def _set_subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:  # not Linux: orphans are then found by process group only
        pass


def _descendants() -> dict[int, int]:
    """pid -> resident bytes for every process below this worker."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * _PAGE
    me = os.getpid()
    found: dict[int, int] = {}
    frontier = [me]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = rss[pid]
                frontier.append(pid)
    return found


def _kill_all(pgid: int) -> None:
    """Kill the child's process group and every other descendant, then reap them."""
    for _ in range(200):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
        pids = _descendants()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap()
        if not pids:
            return
        time.sleep(0.001)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Worker:
    def __init__(self, task: dict[str, Any]) -> None:
        self.test_name: str = task["test_name"]
        self.test_source: str = task["test_source"]
        self.target_module: str = task["target_module"]
        self.root: str = task.get("workdir") or "/tmp/greenloop-worker"
        self.jobs = 0
        os.makedirs(self.root, exist_ok=True)
        for module in task.get("preimport", []):
            try:
                importlib.import_module(module)
            except BaseException:  # noqa: BLE001 - a failing import is the test's business, later
                pass

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        self.jobs += 1
        limits = job["limits"]
        scratch = os.path.join(self.root, f"job{self.jobs}")
        os.makedirs(scratch)
        with open(os.path.join(scratch, self.target_module + ".py"), "w") as f:
            f.write(job["code"])
        test_path = os.path.join(scratch, self.test_name)
        with open(test_path, "w") as f:
            f.write(self.test_source)
        with open(os.path.join(scratch, ".pytest.ini"), "w") as f:
            f.write("[pytest]\n")
        key = os.urandom(32)
        read_fd, write_fd = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(read_fd)
            _child(scratch, test_path, write_fd, key, limits, bool(job.get("collect_only")))
        os.close(write_fd)
        raw, ended_by = self._watch(pid, read_fd, limits, started)
        os.close(read_fd)
        _kill_all(pid)
        output = _read_output(os.path.join(scratch, ".out"))
        shutil.rmtree(scratch, ignore_errors=True)
        result = _assemble(raw, key, ended_by, time.monotonic() - started)
        result["output"] = output
        return result

    def _watch(self, pid: int, fd: int, limits: dict[str, Any], started: float) -> tuple[bytes, str]:
        """Read the child's records until it exits or breaks a limit; returns (data, why it ended)."""
        chunks: list[bytes] = []
        deadline = started + float(limits["timeout"])
        memory = int(limits["memory_mb"]) * 1024 * 1024
        max_procs = int(limits["max_processes"])
        exited = False
        next_check = 0.0
        while True:
            now = time.monotonic()
            if now >= deadline:
                return b"".join(chunks), "timeout"
            ready, _, _ = select.select([fd], [], [], min(0.01, deadline - now))
            if ready:
                data = os.read(fd, 65536)
                if data:
                    chunks.append(data)
                    continue
                exited = True  # EOF: nobody holds the pipe any more
            if not exited:
                done, _status = os.waitpid(pid, os.WNOHANG)
                if done:
                    # Drain what is buffered; descendants holding the pipe get killed next.
                    while select.select([fd], [], [], 0)[0]:
                        data = os.read(fd, 65536)
                        if not data:
                            break
                        chunks.append(data)
                    return b"".join(chunks), "exit"
            else:
                return b"".join(chunks), "exit"
            if now >= next_check:
                next_check = now + 0.005
                tree = _descendants()
                if sum(tree.values()) > memory:
                    return b"".join(chunks), "memory"
                if len(tree) > max_procs:
                    return b"".join(chunks), "processes"


def _read_output(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - _OUTPUT_LIMIT))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _child(scratch: str, test_path: str, write_fd: int, key: bytes, limits: dict[str, Any], collect_only: bool) -> None:  # pragma: no cover
    try:
        os.setsid()
        out = os.open(os.path.join(scratch, ".out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        keep = sorted({0, 1, 2, write_fd})
        for low, high in zip(keep, keep[1:] + [65536], strict=True):
            os.closerange(low + 1, high)
        memory = int(limits["memory_mb"]) * 1024 * 1024
        cpu = int(limits["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        size = int(limits["file_size_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.chdir(scratch)
        sys.path.insert(0, scratch)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        from greenloop.execute import runner

        runner.run(scratch, test_path, write_fd, key, collect_only)
    finally:
        os._exit(70)


def _assemble(raw: bytes, key: bytes, ended_by: str, seconds: float) -> dict[str, Any]:
    """Turn the child's signed records into an Outcome dict (see outcome.Outcome.from_dict)."""
    records: list[dict[str, Any]] = []
    forged = 0
    for line in raw.split(b"\n"):
        if not line:
            continue
        body, _, mac = line.rpartition(b"\t")
        expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
        if not body or not hmac.compare_digest(mac, expected):
            forged += 1
            continue
        records.append(json.loads(body))
    collected: list[str] = []
    tests: dict[str, dict[str, Any]] = {}
    running = ""
    problems: list[str] = []
    done = False
    for record in records:
        kind = record["kind"]
        if kind == "collected":
            collected = list(record["ids"])
        elif kind == "start":
            running = record["id"]
        elif kind == "test":
            running = ""
            entry = {k: v for k, v in record.items() if k not in ("kind", "returned", "id")}
            entry["test_id"] = record["id"]
            tests[record["id"]] = entry
        elif kind == "collect-error":
            problems.append("collection failed: " + record["message"])
        elif kind == "runner-error":
            problems.append("the test run was aborted: " + record["message"])
        elif kind == "done":
            done = True
    ending = {
        "timeout": "timed out",
        "memory": "exceeded the memory limit",
        "processes": "exceeded the process limit",
    }.get(ended_by)
    results = []
    for test_id in collected:
        if test_id in tests:
            results.append(tests[test_id])
        elif test_id == running and ending:
            status = "timeout" if ended_by == "timeout" else "error"
            results.append({"test_id": test_id, "status": status, "message": f"the test {ending}"})
        else:
            results.append({"test_id": test_id, "status": "not-run", "message": "never ran"})
    if forged:
        problems.append(f"{forged} report line(s) not signed by the runner were ignored")
    if ending:
        problems.append(f"the candidate {ending}" + (f" in {running}" if running else ""))
    elif not done and not problems:
        problems.append("the test process exited before pytest finished (did the code call os._exit or crash?)")
    return {"tests": results, "seconds": seconds, "problem": "; ".join(problems), "collected": collected}


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # stray prints from imports must not corrupt the protocol
    _set_subreaper()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    task = json.loads(sys.stdin.readline())
    import pytest  # noqa: F401 - warm: every child inherits it

    from greenloop.execute import runner

    runner.install_assertion_hooks()
    worker = Worker(task)
    protocol.write(json.dumps({"ready": True}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        job = json.loads(line)
        try:
            reply = worker.run(job)
        except Exception as exc:  # noqa: BLE001 - reported, the parent replaces this worker
            reply = {"tests": [], "problem": f"worker error: {exc!r}", "infrastructure": True}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
