"""The user's repository, and greenloop's private copy of it.

The loop never works in the user's tree. `Scratch` copies the working tree as it is (uncommitted
and untracked changes included, ignored directories such as virtualenvs left out) into a
temporary directory and records that snapshot in a private git repository whose git dir lies
outside the copy: each test run then starts from exactly the snapshot plus the candidate's edits,
whatever the previous run wrote, and diffs come from git. The user's repository is only read
(`GIT_OPTIONAL_LOCKS=0`, so not even its index is refreshed) until a green change is applied.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from greenloop.task import TaskError

_IGNORED_FILE_LIMIT = 1 << 20  # ignored files (generated _version.py, built .so) are copied up to 1 MiB
# The private repository must not see the user's git configuration (hooks, filters, signing).
_PRIVATE_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "greenloop", "GIT_AUTHOR_EMAIL": "greenloop@localhost",
    "GIT_COMMITTER_NAME": "greenloop", "GIT_COMMITTER_EMAIL": "greenloop@localhost",
}


class RepoError(TaskError):
    """Bad input in repo mode: one line for the user."""


class GitError(RuntimeError):
    pass


def _git(args: list[str], cwd: Path, env: dict[str, str] | None = None, data: bytes | None = None) -> bytes:
    full_env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", **(env or {})}
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, env=full_env, input=data, capture_output=True, check=False)
    except FileNotFoundError:
        raise RepoError("git is not installed; repo mode needs it") from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {err[-1] if err else proc.returncode}")
    return proc.stdout


@dataclass(frozen=True)
class RepoInfo:
    root: Path  # the working tree's top level
    cwd: str  # where the user stands, relative to root ("" at the top)
    branch: str | None  # None when HEAD is detached
    dirty: bool

    def git(self, *args: str) -> str:
        return _git(list(args), self.root).decode(errors="replace")


def discover(cwd: str | Path | None = None) -> RepoInfo:
    """The git working tree containing `cwd`; raises RepoError when there is none."""
    here = Path(cwd or os.getcwd()).resolve()
    try:
        top = _git(["rev-parse", "--show-toplevel"], here).decode().strip()
    except GitError:
        raise RepoError(f"not a git repository: {here}; greenloop fix works inside one (git init)") from None
    if not top:
        raise RepoError(f"{here} is inside a bare git repository; run greenloop fix in a working tree")
    root = Path(top).resolve()
    try:
        branch: str | None = _git(["symbolic-ref", "--quiet", "--short", "HEAD"], root).decode().strip()
    except GitError:
        branch = None
    dirty = bool(_git(["status", "--porcelain", "--untracked-files=normal"], root).strip())
    rel = here.relative_to(root).as_posix()
    return RepoInfo(root, "" if rel == "." else rel, branch, dirty)


def _listing(root: Path) -> tuple[list[str], list[str]]:
    """(tracked and untracked-not-ignored paths, ignored files) in the working tree, as it is."""
    kept = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root).decode().split("\0")
    ignored = _git(["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"], root)
    # Ignored directories (virtualenvs, caches, build trees) are left out whole; ignored files are
    # often generated code the package needs at import.
    files = [p for p in ignored.decode().split("\0") if p and not p.endswith("/")]
    return sorted({p for p in kept if p}), files


def _copy_entry(src: Path, dest: Path) -> None:
    if src.is_symlink():
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.readlink(src), dest)
    elif src.is_dir():  # a submodule: its files, not its .git
        shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"), dirs_exist_ok=True)
    elif src.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def _force_rmtree(path: Path) -> None:
    def make_writable(func: object, target: str, exc: object) -> None:
        parent = os.path.dirname(target)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        if os.path.isdir(target) and not os.path.islink(target):
            os.chmod(target, os.stat(target).st_mode | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)
            shutil.rmtree(target, ignore_errors=True)
        else:
            os.unlink(target)

    if path.exists():
        shutil.rmtree(path, onerror=make_writable)


class Scratch:
    """A private copy of the repository: `work` is where commands run, `results` their reports."""

    def __init__(self, info: RepoInfo) -> None:
        self.info = info
        self.dir = Path(tempfile.mkdtemp(prefix="greenloop-fix-")).resolve()
        self.work = self.dir / "work"
        self.results = self.dir / "results"
        self.gitdir = self.dir / "git"
        self._originals: dict[str, str | None] = {}
        self._fresh = 0

    def _git(self, *args: str, work: Path | None = None, env: dict[str, str] | None = None,
             data: bytes | None = None) -> bytes:
        where = ["--git-dir", str(self.gitdir), "--work-tree", str(work or self.work)]
        return _git([*where, *args], self.dir, {**_PRIVATE_ENV, **(env or {})}, data)

    def snapshot(self) -> int:
        """Copy the user's working tree and record it; returns the number of files copied."""
        self.work.mkdir()
        self.results.mkdir()
        kept, ignored = _listing(self.info.root)
        for rel in kept:
            _copy_entry(self.info.root / rel, self.work / rel)
        for rel in ignored:
            src = self.info.root / rel
            if src.is_file() and not src.is_symlink() and src.stat().st_size <= _IGNORED_FILE_LIMIT:
                _copy_entry(src, self.work / rel)
        _git(["init", "-q", str(self.gitdir), "--bare"], self.dir, _PRIVATE_ENV)
        self._git("config", "core.bare", "false")
        # Force-add: ignored files that were copied belong to the snapshot too.
        self._git("add", "-A", "-f", ".")
        self._git("commit", "-q", "--no-verify", "--allow-empty", "-m", "snapshot")
        return len(kept)

    def original(self, path: str) -> str | None:
        """The file's text in the snapshot, or None if it was not there (or is not UTF-8 text)."""
        if path not in self._originals:
            try:
                raw = self._git("cat-file", "blob", f"HEAD:{path}")
                self._originals[path] = raw.decode("utf-8")
            except (GitError, UnicodeDecodeError):
                self._originals[path] = None
        return self._originals[path]

    def files(self) -> list[str]:
        return [p for p in self._git("ls-files", "-z").decode().split("\0") if p]

    def reset(self) -> None:
        """Put `work` back to exactly the snapshot."""
        try:
            self._git("reset", "-q", "--hard")
            self._git("clean", "-q", "-ffdx")
        except GitError:
            # A run left something git cannot remove (say, a read-only directory): start over.
            _force_rmtree(self.work)
            self.work.mkdir()
            self._git("reset", "-q", "--hard")

    def prepare(self, edits: dict[str, str]) -> str:
        """Reset `work`, write the candidate's files into it, and return its diff to the snapshot."""
        self.reset()
        _write(self.work, edits)
        return self.diff(edits)

    def diff(self, edits: dict[str, str]) -> str:
        if not edits:
            return ""
        new = [p for p in edits if self.original(p) is None]
        if new:
            self._git("add", "-N", "--", *new)
        return self._git("diff", "--no-color", "--no-ext-diff", "--no-renames", "HEAD", "--", *sorted(edits)).decode(
            "utf-8", "replace")

    def fresh(self, edits: dict[str, str]) -> Path:
        """A new directory holding the snapshot plus `edits`, for the clean re-run of a green candidate."""
        self._fresh += 1
        target = self.dir / f"verify{self._fresh}"
        target.mkdir()
        index = {"GIT_INDEX_FILE": str(self.dir / f"verify{self._fresh}.index")}
        self._git("read-tree", "HEAD", work=target, env=index)
        self._git("checkout-index", "-a", "-f", work=target, env=index)
        _write(target, edits)
        return target

    def close(self) -> None:
        _force_rmtree(self.dir)


def _write(root: Path, edits: dict[str, str]) -> None:
    for rel, text in edits.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)


def _read_exact(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, UnicodeDecodeError):
        return None


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """Ctrl-C waits while files are replaced, so the tree never holds half a change."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to block
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def apply_to_tree(root: Path, edits: dict[str, str], originals: dict[str, str | None]) -> list[str]:
    """Write `edits` into the user's tree if every file still holds what the snapshot saw.
    Returns the paths that changed meanwhile (then nothing is written)."""
    conflicts = [rel for rel in sorted(edits) if _read_exact(root / rel) != originals.get(rel)]
    if conflicts:
        return conflicts
    staged: list[tuple[Path, Path]] = []
    try:
        for rel, text in sorted(edits.items()):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".greenloop")
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            staged.append((Path(tmp), path))
        with _no_interrupts():
            for tmp_path, path in staged:
                os.replace(tmp_path, path)
            staged = []
    finally:
        for tmp_path, _ in staged:
            tmp_path.unlink(missing_ok=True)
    return []


def commit(info: RepoInfo, paths: list[str], message: str) -> str:
    """Commit exactly `paths` on the current branch (the user's other staged work stays staged)."""
    _git(["add", "--", *paths], info.root)
    _git(["commit", "-q", "-m", message, "--", *paths], info.root)
    return _git(["rev-parse", "HEAD"], info.root).decode().strip()


def dirty_paths(info: RepoInfo, paths: list[str]) -> list[str]:
    """Those of `paths` that differ from HEAD (the user's own uncommitted work in them)."""
    try:
        out = _git(["status", "--porcelain", "-z", "--untracked-files=all", "--", *paths], info.root)
    except GitError:
        return list(paths)
    return [entry[3:] for entry in out.decode().split("\0") if len(entry) > 3]
