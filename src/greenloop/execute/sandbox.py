"""The sandbox a worker runs in: bubblewrap with no network and a read-only, minimal view of the host.

The worker sees the system directories, the Python installation and greenloop itself, read-only,
and a private tmpfs; not the user's home, not the repository, not the host's environment variables.
Where bubblewrap is missing or cannot start, workers run as plain processes with rlimits and a
single warning says so (`GREENLOOP_SANDBOX=none` asks for that explicitly).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import greenloop

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


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


def _python_dirs() -> list[str]:
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


def bwrap_argv(extra_rw: tuple[str, ...] = (), binds: tuple[tuple[str, str, bool], ...] = ()) -> list[str]:
    """The bubblewrap prefix; `extra_rw` are bound read-write at their own path, `binds` are
    (source, destination, writable). Every mount precedes the final read-only remount of `/`."""
    bwrap = shutil.which("bwrap")
    assert bwrap is not None
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--uid", "65534", "--gid", "65534"]
    for d in _SYSTEM_DIRS:
        argv += ["--ro-bind-try", d, d]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]
    for d in _python_dirs():
        if not d.startswith(_SYSTEM_DIRS):
            argv += ["--ro-bind", d, d]
    for d in extra_rw:
        argv += ["--bind", d, d]
    for source, destination, writable in binds:
        argv += ["--bind" if writable else "--ro-bind", source, destination]
    argv += ["--remount-ro", "/"]  # the sandbox's own root too: only /tmp and the binds are writable
    argv += ["--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp",
             "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
             "--setenv", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1", "--chdir", "/tmp"]
    return argv


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str:
    """Empty when bubblewrap works here, else why not."""
    if os.environ.get("GREENLOOP_SANDBOX", "").lower() == "none":
        return "GREENLOOP_SANDBOX=none"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        proc = subprocess.run(
            bwrap_argv() + [sys.executable, "-I", "-S", "-c", "pass"],
            capture_output=True, timeout=20, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap failed to start: {exc}"
    if proc.returncode != 0:
        return "bubblewrap failed to start: " + proc.stderr.decode(errors="replace").strip()[:200]
    return ""


_warned = False


def worker_command(extra_rw: tuple[str, ...] = ()) -> tuple[list[str], bool]:
    """The argv that starts a worker, and whether it is sandboxed."""
    global _warned
    package_parent = str(Path(greenloop.__file__).resolve().parent.parent)
    boot = f"import sys; sys.path.insert(0, {package_parent!r}); from greenloop.execute.worker import main; main()"
    python = [sys.executable, "-I", "-c", boot]
    problem = bwrap_problem()
    if not problem:
        return bwrap_argv(extra_rw) + python, True
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
