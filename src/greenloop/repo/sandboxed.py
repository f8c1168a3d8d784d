"""Running the user's test command in a private copy, under the same sandbox `solve` uses.

Inside bubblewrap the copy is mounted read-write *at the repository's own path*, so absolute paths,
editable installs and configuration that name the repository all resolve to the copy; everything
else is read-only (system, the project's interpreter and its packages, greenloop's report plugin),
/tmp is private, there is no network. The project's interpreter (`interpreter.py`) comes first on
PATH, so `pytest` and `python` are the ones whose packages the repository's tests import. Nothing of
the host environment enters except the variables the user names (`--env`). Results come back over
the pipes of a `results.Channel`. A wall-clock timeout kills the whole process group (and with it
bubblewrap's PID namespace); rlimits bound CPU, memory, file size and cores.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from greenloop.execute.outcome import Limits
from greenloop.execute.sandbox import (
    SandboxWarning,
    bwrap_argv,
    bwrap_problem,
    sandbox_command,
    sandbox_owner,
    unsandboxed_env,
)
from greenloop.repo.interpreter import Interpreter
from greenloop.repo.results import Channel

_OUTPUT_TAIL = 20_000
_warned = False


@dataclass(frozen=True)
class CommandRun:
    exit_code: int  # -1 when it was killed for time
    output: str  # stdout and stderr together, the tail
    seconds: float
    timed_out: bool = False
    infrastructure: str = ""  # set when the sandbox itself failed, not the command
    problem: str = ""  # set when greenloop stopped the command for something it did (filling the disk)


def interpreter_bin() -> str:
    """The bin directory of the interpreter greenloop runs under (a venv's bin, not resolved)."""
    return str(Path(sys.executable).parent)


def find_program(name: str, workdir: Path, bin_dir: str | None = None) -> bool:
    """Whether the command's program exists where the sandbox will look for it."""
    if "/" in name:
        return (workdir / name).exists() or Path(name).exists()
    path = os.pathsep.join([bin_dir or interpreter_bin(), "/usr/local/bin", "/usr/bin", "/bin"])
    return shutil.which(name, path=path) is not None


def _inside(path: str, root: Path) -> str | None:
    try:
        rel = Path(path).resolve().relative_to(root)
    except (ValueError, OSError):
        return None
    return rel.parts[0] if rel.parts else ""


def _interpreter_binds(dirs: list[str], prefix: str, root: Path, copy: Path) -> list[tuple[str, str]]:
    """(outside, inside-the-repository) directories of the interpreter to bind read-only. Inside the
    repository only the virtualenv itself (`.venv`, which git ignores and the copy lacks) is bound
    again over the copy: an editable install's `src` must stay the copy's."""
    outside, inside = [], []
    venv_top = _inside(prefix, root)
    for d in dirs:
        top = _inside(d, root)
        if top is None:
            outside.append(d)
        elif top and top == venv_top and not (copy / top).exists():
            inside.append(str(root / top))
    return [(d, "") for d in sorted(set(outside))] + [("", d) for d in sorted(set(inside))]


def _python_dirs_under(root: Path, copy: Path) -> list[str]:
    """Directories of the running Python that lie inside the repository but not in the copy (a
    `.venv` in the repo, which git ignores): bound again after the copy is mounted over the repo."""
    candidates = {sys.prefix, sys.exec_prefix, interpreter_bin(), *[p for p in sys.path if p]}
    tops: set[str] = set()
    for d in candidates:
        top = _inside(d, root)
        if top and not (copy / top).exists():
            tops.add(str(root / top))
    return sorted(tops)


def _readonly_binds(paths: list[str], copy: Path, root: Path) -> list[tuple[str, str, bool]]:
    """Read-only binds for these copy-relative paths, symlinks resolved: with `tests -> testsuite`,
    it is `testsuite` that must be read-only (a conftest created at run time in a directory behind
    the link would be collected). A link that leads out of the copy binds nothing."""
    base = copy.resolve()
    binds: list[tuple[str, str, bool]] = []
    for rel in paths:
        if not os.path.lexists(copy / rel):
            continue
        real = (copy / rel).resolve()
        try:
            inside = real.relative_to(base)
        except ValueError:
            continue
        if real.exists():
            binds.append((str(real), str(root / inside), False))
    return list(dict.fromkeys(binds))


def _tasks_of(uid: int) -> int:
    """How many tasks (threads included) the user `uid` runs now: RLIMIT_NPROC counts them all."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                pass
    return count


def _rlimits(limits: Limits) -> Callable[[], None]:
    # RLIMIT_NPROC is per user, not per process tree: the command may start `max_processes` more
    # than its user runs now (the sandbox's uid as root, else the user's own; root is exempt).
    owner = sandbox_owner()
    uid = owner[0] if owner else os.getuid()
    processes = (_tasks_of(uid) if uid else 0) + limits.max_processes

    def apply() -> None:  # pragma: no cover - runs in the child between fork and exec
        memory = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        size = limits.file_size_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))

    return apply


class Runner:
    """Runs commands for one repository: `root` is its real path, `cwd` the user's place in it."""

    def __init__(self, root: Path, cwd: str, limits: Limits, interpreter: Interpreter | None = None,
                 plugin_dir: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.root, self.cwd, self.limits = root, cwd, limits
        self.interpreter, self.plugin_dir, self.env = interpreter, plugin_dir, dict(env or {})
        # Repository-relative paths bound read-only over the writable copy (the tests and what
        # configures them): code under test cannot rewrite a test it has not been judged by yet.
        self.readonly: list[str] = []
        self.problem = bwrap_problem()
        self.sandboxed = not self.problem
        global _warned
        if not self.sandboxed and not _warned and self.problem != "GREENLOOP_SANDBOX=none":
            _warned = True
            warnings.warn(
                f"greenloop: running the test command WITHOUT a sandbox ({self.problem}); install bubblewrap "
                "(apt-get install bubblewrap) for network and filesystem isolation", SandboxWarning, stacklevel=2,
            )

    @property
    def bin_dir(self) -> str:
        return self.interpreter.bin_dir if self.interpreter else interpreter_bin()

    def _env(self, env: dict[str, str]) -> dict[str, str]:
        full = {"PATH": ":".join([self.bin_dir, "/usr/local/bin", "/usr/bin", "/bin"]), **self.env}
        if self.plugin_dir is not None:
            full["PYTHONPATH"] = str(self.plugin_dir)
        if self.interpreter is not None and self.interpreter.prefix != self.interpreter.base_prefix:
            full["VIRTUAL_ENV"] = self.interpreter.prefix
        full.update(env)
        return full

    def _sandbox(self, argv: list[str], copy: Path, env: dict[str, str]) -> list[str]:
        if self.interpreter is not None:
            pairs = _interpreter_binds(self.interpreter.dirs(), self.interpreter.prefix, self.root, copy)
        else:
            pairs = [("", d) for d in _python_dirs_under(self.root, copy)]
        binds: list[tuple[str, str, bool]] = [(d, d, False) for d, _ in pairs if d]
        binds.append((str(copy), str(self.root), True))
        binds += _readonly_binds(self.readonly, copy, self.root)
        binds += [(d, d, False) for _, d in pairs if d]
        if self.plugin_dir is not None:
            binds.append((str(self.plugin_dir), str(self.plugin_dir), False))
        prefix = bwrap_argv((), tuple(binds))
        if "--chdir" in prefix:  # ours comes last; bwrap warns about two
            at = prefix.index("--chdir")
            del prefix[at:at + 2]
        # The user's own pytest plugins (pytest-asyncio, ...) are part of their test command.
        prefix += ["--unsetenv", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        for key, value in self._env(env).items():
            prefix += ["--setenv", key, value]
        prefix += ["--chdir", str(self.root / self.cwd)]
        return prefix + sandbox_command(argv)

    def _plain(self, argv: list[str], copy: Path, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        full = unsandboxed_env()
        full.update(self._env(env))
        # Without the mount trick, the copy must shadow an editable install of the original.
        roots = [str(copy / "src")] if (copy / "src").is_dir() else []
        full["PYTHONPATH"] = os.pathsep.join([*roots, str(copy), *([str(self.plugin_dir)] if self.plugin_dir else [])])
        root = str(self.root)
        moved = [copy.as_posix() + a[len(root):] if a == root or a.startswith(root + "/") else a for a in argv]
        return moved, full

    def run(self, argv: list[str], copy: Path, env: dict[str, str] | None = None,
            channel: Channel | None = None) -> CommandRun:
        """Run `argv` with `copy` standing in for the repository; never raises for the command's sake."""
        env = {**(env or {}), **(channel.env() if channel else {})}
        if self.sandboxed:
            full_argv, full_env, cwd = self._sandbox(argv, copy, env), unsandboxed_env(), None
        else:
            full_argv, full_env = self._plain(argv, copy, env)
            cwd = str(copy / self.cwd)
        started = time.monotonic()
        with tempfile.TemporaryFile() as out:
            try:
                proc = subprocess.Popen(
                    full_argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                    env=full_env, start_new_session=True, preexec_fn=_rlimits(self.limits),
                    pass_fds=channel.child_fds() if channel else (),
                )
            except OSError as exc:
                if channel:
                    channel.abandon()
                return CommandRun(-1, str(exc), 0.0, infrastructure=f"could not start {argv[0]}: {exc}")
            if channel:
                channel.started()
            timed_out, problem = False, ""
            try:
                code, problem = self._wait(proc, copy, started)
            except subprocess.TimeoutExpired:
                timed_out, code = True, -1
            finally:
                _kill_group(proc)
            if channel:
                channel.wait()
            seconds = time.monotonic() - started
            out.seek(0, os.SEEK_END)
            out.seek(max(0, out.tell() - _OUTPUT_TAIL))
            output = out.read().decode("utf-8", "replace")
        infrastructure = ""
        if self.sandboxed and code != 0 and output.startswith("bwrap:"):
            infrastructure = output.strip().splitlines()[0]
        return CommandRun(code, output, seconds, timed_out, infrastructure, problem)

    def _wait(self, proc: subprocess.Popen[bytes], copy: Path, started: float) -> tuple[int, str]:
        """The exit status; raises TimeoutExpired at the timeout. The copy lies on the host's disk and
        RLIMIT_FSIZE bounds one file only: a run whose writes take more than `disk_limit()` of the
        copy's filesystem is stopped (the drop in free space is what it wrote, or near enough)."""
        limit = self.disk_limit()
        free = _free(copy)
        while True:
            left = self.limits.timeout - (time.monotonic() - started)
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, self.limits.timeout)
            try:
                return proc.wait(timeout=min(0.25, left)), ""
            except subprocess.TimeoutExpired:
                pass
            if free - _free(copy) > limit:
                _kill_group(proc)
                return -1, (f"the test run wrote more than {limit >> 20} MiB into the repository's copy and was "
                            "stopped: code under test may not fill the disk")

    def disk_limit(self) -> int:
        return 4 * self.limits.file_size_mb << 20


def _free(path: Path) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill everything the command started: its process group (bubblewrap's PID namespace goes with
    bubblewrap), including what it left running after it exited."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
