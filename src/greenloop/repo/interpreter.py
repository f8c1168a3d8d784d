"""Which Python runs the project's tests: the project's own, not greenloop's.

Chosen as `--python PATH`, else the active virtualenv (`VIRTUAL_ENV`), else `.venv/` or `venv/` in
the repository, else the `python` on PATH. It is asked once (`-I -c`) for what the sandbox must
show of it (its prefixes and site directories), its version, the standard library's module names
and the top-level names its installed distributions provide: a new file with one of those names
would shadow them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from greenloop.repo.workspace import RepoError

_PROBE = r"""
import json, os, sys, sysconfig
from importlib import metadata
top = set()
for dist in metadata.distributions():
    try:
        text = dist.read_text("top_level.txt")
    except Exception:
        text = None
    if text:
        top.update(line.strip() for line in text.splitlines() if line.strip())
    for f in (dist.files or [])[:400]:
        parts = f.parts
        if parts and not parts[0].endswith((".dist-info", ".egg-info", ".data", "..")) and parts[0] != "__pycache__":
            top.add(parts[0][:-3] if parts[0].endswith(".py") else parts[0])
paths = sysconfig.get_paths()
print(json.dumps({"executable": sys.executable, "prefix": sys.prefix, "base_prefix": sys.base_prefix,
    "exec_prefix": sys.exec_prefix, "path": [p for p in sys.path if p], "version": sys.version.split()[0],
    "stdlib": sorted(getattr(sys, "stdlib_module_names", ())), "installed": sorted(t for t in top if t.isidentifier()),
    "purelib": paths.get("purelib", ""), "platlib": paths.get("platlib", "")}))
"""


@dataclass(frozen=True)
class Interpreter:
    python: str  # as found, not resolved (a venv's bin/python)
    how: str  # "--python", "VIRTUAL_ENV", ".venv in the repository", "PATH"
    version: str
    prefix: str
    base_prefix: str
    sys_path: tuple[str, ...]
    stdlib: frozenset[str]
    installed: frozenset[str]

    @property
    def bin_dir(self) -> str:
        return str(Path(self.python).parent)

    def describe(self) -> str:
        return f"{self.python} (Python {self.version}, from {self.how})"

    def dirs(self) -> list[str]:
        """What the sandbox must show, read-only, for this interpreter and its packages to work."""
        found = {self.prefix, self.base_prefix, self.bin_dir, str(Path(self.python).resolve().parent.parent)}
        found.update(p for p in self.sys_path if os.path.isdir(p))
        return sorted(found)

    def shadows(self, module: str) -> str | None:
        """Why a top-level module of this name would shadow something, or None."""
        if module in self.stdlib or module in ("sitecustomize", "usercustomize", "site"):
            return f"{module} is a module of the standard library"
        if module in self.installed or module in ("pytest", "_pytest", "py", "pluggy", "greenloop"):
            return f"{module} is an installed package"
        return None


def _candidates(repo: Path, explicit: str | None, env: dict[str, str]) -> list[tuple[str, str]]:
    if explicit:
        return [(explicit, "--python")]
    found: list[tuple[str, str]] = []
    if env.get("VIRTUAL_ENV"):
        found.append((str(Path(env["VIRTUAL_ENV"]) / "bin" / "python"), "VIRTUAL_ENV"))
    for name in (".venv", "venv"):
        found.append((str(repo / name / "bin" / "python"), f"{name}/ in the repository"))
    on_path = shutil.which("python", path=env.get("PATH")) or shutil.which("python3", path=env.get("PATH"))
    if on_path:
        found.append((on_path, "PATH"))
    return found


def detect(repo: Path, explicit: str | None = None, env: dict[str, str] | None = None) -> Interpreter:
    """The project's interpreter; raises RepoError when `--python` is not a working Python."""
    env = dict(os.environ if env is None else env)
    for python, how in _candidates(repo, explicit, env):
        path = Path(python)
        if not path.is_absolute():
            path = Path.cwd() / path
        if not (path.is_file() and os.access(path, os.X_OK)):
            if how == "--python":
                raise RepoError(f"--python: no executable Python at {python}")
            continue
        try:
            proc = subprocess.run([str(path), "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60,
                                  check=False, env={"PATH": env.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"})
            data = json.loads(proc.stdout)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            if how == "--python":
                raise RepoError(f"--python: {python} did not run as a Python interpreter") from None
            continue
        # sys.executable, not the path found: a pyenv shim or wrapper script is not the interpreter.
        return Interpreter(str(data["executable"]) or str(path), how, str(data["version"]), str(data["prefix"]), str(data["base_prefix"]),
                           tuple(str(p) for p in data["path"]), frozenset(data["stdlib"]),
                           frozenset(data["installed"]))
    raise RepoError("no Python interpreter found: pass --python PATH, activate the project's virtualenv, or "
                    "put python on PATH")
