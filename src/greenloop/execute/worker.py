"""The long-lived worker that runs inside the sandbox and forks one judge per candidate.

Protocol: JSON lines. The first line on stdin is the task (test source, names, modules to
pre-import, limits, whether the fast path may be used, which judge); each later line is a job
(`code`, `collect_only`), answered by one line with an `Outcome` dict. The worker is the trusted
side: it enforces the time, memory and process limits from outside the children, verifies the
judge's signed records and kills every process the job left behind before it answers.

Split judge (`judge: split`): before it reads the task, the worker forks a pristine forker
(candidate.serve_forker) that has never held the tests; each job's candidate process is forked
from it and the judge child talks to it over a socket (split.py). Shared judge: the candidate is
imported into the judge child itself, as before.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import linecache
import os
import resource
import select
import shutil
import signal
import socket
import sys
import time
from typing import Any

from greenloop.execute import confine, jobs
from greenloop.execute.analysis import skip_marked
from greenloop.execute.candidate import Forker
from greenloop.execute.proctree import descendants, set_subreaper
from greenloop.execute.records import assemble, read_output

PLACEHOLDER_MODULE = '''
class _Placeholder:
    def __init__(self, *args, **kwargs): pass
    def __call__(self, *args, **kwargs): return _Placeholder()
    def __getattr__(self, name): return _Placeholder()
    def __iter__(self): return iter(())
def __getattr__(name):
    return _Placeholder()
'''
_PR_SET_PDEATHSIG = 1


class Worker:
    def __init__(self, task: dict[str, Any], forker: Forker | None = None, slot: tuple[str, Any] | None = None) -> None:
        self.test_name: str = task["test_name"]
        self.test_source: str = task["test_source"]
        self.target_module: str = task["target_module"]
        from greenloop.execute import session

        # A slot is a scratch directory the zygote configured pytest for (zygote.py): usable when
        # collecting the directory finds exactly the test file.
        if slot is not None and not session.slot_fits(self.test_name, self.target_module):
            slot = None
        self.root: str = os.path.dirname(slot[0]) if slot else (task.get("workdir") or "/tmp/greenloop-worker")
        # Every job runs in the same directory (one job at a time), so pytest's configuration,
        # which names the paths, is prepared once here and inherited by each forked child.
        self.scratch = os.path.join(self.root, "run")
        self.test_path = os.path.join(self.scratch, self.test_name)
        # The candidate's own directory: never the one the tests are in.
        self.candidate_dir = os.path.join(self.root, "candidate")
        self.forker = forker if task.get("judge") == "split" else None
        self.limits: dict[str, Any] = task["limits"]
        self.tmpfs = bool(task.get("sandboxed"))
        self.jobs = 0
        self.prepared = False
        self.standby: tuple[int, bytes, int, int, int] | None = None
        self.candidate_pid = 0
        for module in task.get("preimport", []):
            try:
                importlib.import_module(module)
            except BaseException:  # noqa: BLE001 - a failing import is the test's business, later
                pass
        # Fast path: collect once here against a placeholder; children rebind and run (session.py).
        self.bindings = session.fast_bindings(self.test_source, self.target_module) if task.get("fast", True) else None
        self._write_files(PLACEHOLDER_MODULE)
        if slot is not None:
            self.session = session.adopt(slot[1], self.test_path)
        else:
            self.session = session.prepare(self.scratch, self.test_path)
        self.collected: list[str] = []
        self.collect_problem = ""
        if self.bindings is not None:
            self.collected, self.collect_problem = session.collect(self.session)
        session.register_recorder(self.session, self.scratch, skip_marked(self.test_source))
        # Tracebacks and pytest's reports read the test source from here once the file is gone.
        linecache.cache[self.test_path] = (len(self.test_source), None, self.test_source.splitlines(True),
                                           self.test_path)
        self.prepared = True
        # The runner's last record as it arrives on the pipe (signed lines are `json<TAB>mac`).
        self.last_record = json.dumps(session.LAST_RECORD).encode() + b"\t"
        self.running: int | None = None  # the last job's child, killed with its tree by `cleanup`
        self.tmpfs_baseline = jobs.tmpfs_bytes() if self.tmpfs else 0
        if slot is None:
            gc.collect()  # (a slot's worker inherits the zygote's frozen heap: little to collect)
        gc.freeze()  # children neither rescan nor copy the worker's objects

    def _write_files(self, code: str | None) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        os.makedirs(self.scratch)
        if self.forker is not None:
            code = PLACEHOLDER_MODULE  # the split judge never imports a candidate from a file
        if code is not None:
            with open(os.path.join(self.scratch, self.target_module + ".py"), "w") as f:
                f.write(code)
        # The split judge needs the test file only while collecting: the worker's own collection
        # (fast path) or, on the full path, the judge child's, which writes it just before and
        # empties it before the candidate's code is loaded (split.py). So it does not wait on
        # disk, where another pool's candidate could read it, while the model thinks.
        if not (self.prepared and self.forker is not None):
            with open(self.test_path, "w") as f:
                f.write(self.test_source)
        with open(os.path.join(self.scratch, ".pytest.ini"), "w") as f:
            f.write("[pytest]\n")

    def fork_standby(self) -> None:
        """Fork the next child ahead of its job, in a fresh scratch directory, so that forking and
        setting it up (limits, descriptors, session) costs nothing on the job's critical path."""
        if self.standby is not None:
            return
        self._write_files(None)
        key = os.urandom(32)
        result_read, result_write = os.pipe()
        job_read, job_write = os.pipe()
        out = os.open(os.path.join(self.scratch, ".out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        call: socket.socket | None = None
        candidate = 0
        if self.forker is not None:
            call, theirs = socket.socketpair()
            try:
                candidate = self.forker.spawn(theirs, out, self.limits, self.candidate_dir)
            finally:
                theirs.close()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(result_read)
            os.close(job_write)
            _child(self, result_write, job_read, key, out, call)
        os.close(result_write)
        os.close(job_read)
        os.close(out)
        if call is not None:
            call.close()
        self.standby = (pid, key, result_read, job_write, candidate)

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        self.jobs += 1
        if job.get("collect_only") and self.bindings is not None:
            problem = f"collection failed: {self.collect_problem}" if self.collect_problem else ""
            return {"tests": [], "collected": self.collected, "problem": problem, "seconds": 0.0}
        self.fork_standby()
        assert self.standby is not None
        pid, key, result_fd, job_fd, self.candidate_pid = self.standby
        self.standby = None
        started = time.monotonic()
        try:
            os.write(job_fd, json.dumps({"code": job["code"], "collect_only": bool(job.get("collect_only"))}).encode())
        except OSError:
            pass  # the child is gone; what it reported (nothing) is judged below
        os.close(job_fd)
        self.running = pid
        raw, ended_by = self._watch(pid, result_fd, self.limits, started)
        os.close(result_fd)
        if ended_by != "exit":
            self.cleanup()  # over a limit: stop it before anything else is read
        result = assemble(raw, key, ended_by, time.monotonic() - started)
        result["output"] = read_output(os.path.join(self.scratch, ".out"))
        return result

    def cleanup(self) -> None:
        """Kill what is left of the last job's process tree and reap it. A child that reported its
        last record is still tearing down its address space (~1 ms); the reply does not wait for it,
        the next job does (the main loop calls this right after replying)."""
        if self.running is not None:
            jobs.kill_job(self.running, self.candidate_pid, self.forker.pid if self.forker else 0)
            self.running = None
            self.candidate_pid = 0
        # What a candidate wrote in its own directory is no later candidate's business; nor is
        # the split judge's test file, which its last collection may have left.
        shutil.rmtree(self.candidate_dir, ignore_errors=True)
        if self.forker is not None:
            try:
                os.unlink(self.test_path)
            except OSError:
                pass

    def _watch(self, pid: int, fd: int, limits: dict[str, Any], started: float) -> tuple[bytes, str]:
        """Read the child's records until it exits or breaks a limit; returns (data, why it ended)."""
        chunks: list[bytes] = []
        deadline = started + float(limits["timeout"])
        memory = int(limits["memory_mb"]) * 1024 * 1024
        max_procs = int(limits["max_processes"])
        exited = False
        next_check = started + 0.002
        keep = self.forker.pid if self.forker else 0
        while True:
            now = time.monotonic()
            if now >= deadline:
                return b"".join(chunks), "timeout"
            ready, _, _ = select.select([fd], [], [], min(0.01, deadline - now))
            if ready:
                data = os.read(fd, 65536)
                if data:
                    chunks.append(data)
                    if data.endswith(b"\n") and self.last_record in data.rsplit(b"\n", 2)[-2]:
                        # The runner's last record: everything it had to say is here. (A forged
                        # one only cuts the candidate's own report short: never a false green.)
                        return b"".join(chunks), "exit"
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
                tree = descendants()
                tree.pop(keep, None)  # the idle forker is the worker's, not the job's
                # Files in the sandbox's private tmpfs are memory too.
                held = jobs.tmpfs_bytes() - self.tmpfs_baseline if self.tmpfs else 0
                if sum(tree.values()) + held > memory:
                    return b"".join(chunks), "memory"
                if len(tree) > max_procs:
                    return b"".join(chunks), "processes"


def _child(worker: Worker, write_fd: int, job_fd: int, key: bytes, out: int,
           call: socket.socket | None) -> None:  # pragma: no cover
    """The forked judge: confine itself, wait for its job, run the tests. Never returns."""
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.setsid()
        scratch = worker.scratch
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        keep = sorted({0, 1, 2, write_fd, job_fd, *([call.fileno()] if call else [])})
        for low, high in zip(keep, keep[1:] + [65536], strict=True):
            os.closerange(low + 1, high)
        limits = worker.limits
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
        jobs.prefault(job_fd)
        chunks = []
        while chunk := os.read(job_fd, 1 << 20):
            chunks.append(chunk)
        os.close(job_fd)
        if not chunks:
            os._exit(0)  # the worker is going away
        job = json.loads(b"".join(chunks))
        if call is None:
            from greenloop.execute.landlock import fence

            fence(scratch)  # the shared judge runs the candidate in this process: it writes here only
        from greenloop.execute import session

        if call is not None:
            from greenloop.execute import split

            candidate_path = os.path.join(worker.candidate_dir, worker.target_module + ".py")
            split.run(worker.session, worker.bindings, worker.target_module, worker.test_path, worker.test_source,
                      candidate_path, job["code"], call, write_fd, key, job["collect_only"])
        with open(os.path.join(scratch, worker.target_module + ".py"), "w") as f:
            f.write(job["code"])
        confine.confine_candidate()  # the candidate runs in this process
        if worker.bindings is not None and not job["collect_only"]:
            session.run_fast(worker.session, worker.bindings, worker.target_module, scratch, write_fd, key)
        session.run_full(worker.session, write_fd, key, job["collect_only"])
    finally:
        os._exit(70)


def main() -> None:
    """The sandbox's entry point: the zygote (zygote.py), talking to greenloop over fd 0."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # stray prints from imports must not reach anything
    set_subreaper()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    confine.harden_trusted()
    # No bytecode caches: pytest would write the rewritten tests (their expected values among
    # the constants) next to the test file, where a candidate can read them.
    sys.dont_write_bytecode = True
    import pytest  # noqa: F401 - warm: every worker and child inherits it

    from greenloop.execute import reporter, split, zygote  # noqa: F401 - warm as well

    reporter.install_assertion_hooks()
    zygote.serve(socket.socket(fileno=0))


def serve(channel: socket.socket, slot: tuple[str, Any] | None, root: str, forker: Forker | None = None) -> None:
    """One worker, forked from the zygote: its task and jobs arrive on `channel`."""
    set_subreaper()  # not inherited from the zygote: a job's orphans must stay in this tree
    # Forked before the task (the tests) is read: candidates come from a process that never held them.
    forker = forker or Forker()
    requests = channel.makefile("rb")
    protocol = channel.makefile("wb")

    def answer(reply: dict[str, Any]) -> None:
        protocol.write(json.dumps(reply).encode() + b"\n")
        protocol.flush()

    line = requests.readline()
    if not line:
        return
    task = json.loads(line)
    task["workdir"] = root
    try:
        worker = Worker(task, forker, slot)
        if worker.forker is None:
            forker.close()
    except BaseException as exc:  # noqa: BLE001 - tell the parent why instead of dying silently
        answer({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    # The fast path collected already: the expected test ids come with the answer.
    answer({"ready": True, **({"collected": worker.collected, "problem": worker.collect_problem}
                              if worker.bindings is not None else {})})
    try:
        worker.fork_standby()  # while the parent asks for the expected test ids (no child needed)
    except OSError:
        return
    for line in requests:
        job = json.loads(line)
        try:
            reply = worker.run(job)
        except Exception as exc:  # noqa: BLE001 - reported, the parent replaces this worker
            reply = {"tests": [], "problem": f"worker error: {exc!r}", "infrastructure": True}
        answer(reply)
        worker.cleanup()
        if worker.tmpfs and jobs.tmpfs_bytes() - worker.tmpfs_baseline > int(worker.limits["memory_mb"]) << 19:
            return  # files left in /tmp hold half the budget: the parent starts a new worker
        if select.select([channel], [], [], 0)[0]:
            continue  # the next job (or the end) is here already: no standby to wait for it
        try:
            worker.fork_standby()  # while the parent reads the reply and asks the model
        except OSError:
            return  # the forker is gone (a candidate killed it): the parent starts a new worker


if __name__ == "__main__":
    main()
