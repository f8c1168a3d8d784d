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
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from greenloop.execute.sandbox import sandbox_owner
from greenloop.repo.policy import secret_like
from greenloop.task import TaskError

_IGNORED_FILE_LIMIT = 1 << 20  # ignored files (generated _version.py, built .so) are copied up to 1 MiB
# Of ignored files, only what an import may need (generated modules, built extensions).
# An assignment of a credential-like name to a literal, or a private key: in a file git does not
# track, such text is the user's own secret and is never shown to the model or stored.
_SECRET_TEXT = re.compile(r"""(?im)^[^#\n]*?\w*(token|secret|passw(or)?d|api_?key|private_?key|credential|auth)\w*"""
                          r"""['"]?\s*[:=]\s*[rbuf]?['"][^'"\s]{6,}['"]|-----BEGIN [A-Z ]*PRIVATE KEY-----""")
_IGNORED_KINDS = (".py", ".pyi", ".so", ".pyd", ".dylib", ".typed")
# The repository's .gitattributes must not change what the snapshot holds (eol, filters) or hide a
# change from the diff (`binary`, `-diff`): the private git dir's own attributes win over them.
_NEUTRAL_ATTRIBUTES = "* -text -ident !filter !eol !working-tree-encoding diff\n"
_DIFF = ["-c", "core.attributesFile=/dev/null", "diff", "--text", "--no-ext-diff", "--no-textconv",
         "--no-renames", "--no-color"]
# The private repository must not see the user's git configuration (hooks, filters, signing).
_PRIVATE_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "greenloop", "GIT_AUTHOR_EMAIL": "greenloop@localhost",
    "GIT_COMMITTER_NAME": "greenloop", "GIT_COMMITTER_EMAIL": "greenloop@localhost",
    # The copy may be owned by the sandbox's unprivileged uid (below): git must still work on it.
    "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*",
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


def discover(cwd: str | Path | None = None) -> RepoInfo:
    """The git working tree containing `cwd`; raises RepoError when there is none."""
    here = Path(cwd or os.getcwd()).expanduser().resolve()
    if not here.is_dir():
        raise RepoError(f"no such directory: {cwd}")
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
    files = [p for p in ignored.decode().split("\0") if p and not p.endswith("/") and p.endswith(_IGNORED_KINDS)]
    return sorted({p for p in kept if p and not secret_like(p)}), [p for p in files if not secret_like(p)]


def _copy_entry(src: Path, dest: Path, root: Path) -> None:
    if not _safe(dest, root):
        return  # a parent in the copy is a symlink: never write through one
    if src.is_symlink():
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.readlink(src), dest)
    elif src.is_dir():  # a submodule: its files, not its .git
        shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(".git", ".git*"), dirs_exist_ok=True)
    elif src.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        _copy_file(src, dest)


def _copy_file(src: Path, dest: Path) -> None:
    """A private copy of one file: a reflink where the filesystem can make one (copy-on-write, so a
    write in the copy never reaches the original; hard links would), else a plain copy."""
    try:
        with open(src, "rb") as fin, open(dest, "xb") as fout:
            try:
                import fcntl
                fcntl.ioctl(fout.fileno(), 0x40049409, fin.fileno())  # FICLONE
            except (OSError, ImportError):
                shutil.copyfileobj(fin, fout, 1 << 20)
        shutil.copystat(src, dest)
    except FileExistsError:
        pass


def _safe(path: Path, root: Path) -> bool:
    """Whether `path` lies inside `root` without passing through a symlink on the way."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return False
    current = root
    for part in rel.parts[:-1]:
        current = current / part
        if current.is_symlink():
            return False
    return ".." not in rel.parts


def _own(root: Path) -> None:
    """When greenloop runs as root, the sandboxed command runs as an unprivileged uid: hand it the
    copy (and only the copy) so that it can write there as a test run would in the user's tree."""
    owner = sandbox_owner()
    if owner is None:
        return
    uid, gid = owner
    os.lchown(root, uid, gid)
    for parent, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(parent, name)
            if os.lstat(path).st_uid != uid:
                os.lchown(path, uid, gid)


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
        self.gitdir = self.dir / "git"
        self._originals: dict[str, str | None] = {}
        self._binary: set[str] = set()  # in the snapshot, but not UTF-8 text
        self._untracked: set[str] = set()  # in the snapshot, but not tracked by the user's git
        self._secret: set[str] = set()  # untracked or ignored, and holding what looks like a credential
        self._loaded = False
        self._fresh = 0

    def _git(self, *args: str, work: Path | None = None, env: dict[str, str] | None = None,
             data: bytes | None = None) -> bytes:
        where = ["--git-dir", str(self.gitdir), "--work-tree", str(work or self.work)]
        return _git([*where, *args], self.dir, {**_PRIVATE_ENV, **(env or {})}, data)

    def snapshot(self) -> int:
        """Copy the user's working tree and record it; returns the number of files copied."""
        from greenloop.repo.snapshot import build  # it builds on this module's git helpers

        self.work.mkdir()
        kept, ignored = _listing(self.info.root)
        others = _git(["ls-files", "-z", "--others", "--exclude-standard"], self.info.root).decode().split("\0")
        self._untracked = {p for p in others if p} | set(ignored)
        _git(["init", "-q", str(self.gitdir), "--bare"], self.dir, _PRIVATE_ENV)
        self._git("config", "core.bare", "false")
        (self.gitdir / "info").mkdir(exist_ok=True)
        (self.gitdir / "info" / "attributes").write_text(_NEUTRAL_ATTRIBUTES)
        count = build(self.info.root, self.work, self.gitdir, self._git, kept, ignored, _IGNORED_FILE_LIMIT)
        if count is not None:
            _own(self.work)
            return count
        for rel in kept:
            _copy_entry(self.info.root / rel, self.work / rel, self.work)
        for rel in ignored:
            src = self.info.root / rel
            if src.is_file() and not src.is_symlink() and src.stat().st_size <= _IGNORED_FILE_LIMIT:
                _copy_entry(src, self.work / rel, self.work)
        # Force-add: ignored files that were copied belong to the snapshot too.
        self._git("add", "-A", "-f", ".")
        self._git("commit", "-q", "--no-verify", "--allow-empty", "-m", "snapshot")
        _own(self.work)
        return len(kept)

    def original(self, path: str) -> str | None:
        """The file's text in the snapshot, or None if it was not there (or is a symlink, or is not
        UTF-8 text). Every file is read at the first call, in one `git cat-file --batch`: asking git
        once per file costs seconds on a repository of a few hundred files."""
        if not self._loaded:
            self._load()
        return self._originals.get(path)

    def _load(self) -> None:
        self._loaded = True
        listing = self._git("ls-tree", "-r", "-z", "--full-tree", "HEAD").decode("utf-8", "surrogateescape")
        blobs: list[tuple[str, str]] = []
        for item in listing.split("\0"):
            meta, _, path = item.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob" and parts[0] != "120000":
                blobs.append((parts[2], path))
        if not blobs:
            return
        out = self._git("cat-file", "--batch", data="".join(f"{sha}\n" for sha, _ in blobs).encode())
        at = 0
        for _, path in blobs:
            end = out.index(b"\n", at)
            size = int(out[at:end].split()[2])
            raw = out[end + 1:end + 1 + size]
            at = end + 1 + size + 1
            try:
                self._originals[path] = raw.decode("utf-8")
            except UnicodeDecodeError:
                self._originals[path] = None
                self._binary.add(path)
                continue
            if path in self._untracked and _SECRET_TEXT.search(self._originals[path] or ""):
                self._originals[path] = None  # never quoted (SHOW, closest lines, context)
                self._secret.add(path)

    def binary(self, path: str) -> bool:
        """Whether the snapshot holds this path as a file that is not UTF-8 text (which `original`
        reports as None, like a missing one: writing it would overwrite bytes never shown)."""
        if not self._loaded:
            self._load()
        return path in self._binary

    def unwritable(self, path: str) -> str | None:
        """Why a file `original` does not show may not be written either, or None."""
        if self.binary(path):
            return f"{path} is a binary file (not UTF-8 text); it is never written"
        if path in self._secret:
            return f"{path} is not tracked by git and looks like it holds secrets; it is never shown or written"
        return None

    def files(self) -> list[str]:
        return [p for p in self._git("ls-files", "-z").decode().split("\0") if p]

    def copy_dir(self, k: int) -> Path:
        """Copy `k` of the snapshot: 0 is `work` (the baseline's); 1, 2, ... are where candidates run,
        each with its own index, so that several can be prepared and run at once."""
        return self.work if k == 0 else self.dir / f"work{k}"

    def _index(self, k: int) -> dict[str, str]:
        return {} if k == 0 else {"GIT_INDEX_FILE": str(self.gitdir / f"index{k}")}

    def reset(self, k: int = 0) -> Path:
        """Put copy `k` back to exactly the snapshot (making it, the first time); returns where it is."""
        copy, index = self.copy_dir(k), self._index(k)
        try:
            copy.mkdir(exist_ok=True)
            _drop_git_entries(copy)
            self._git("reset", "-q", "--hard", work=copy, env=index)
            self._git("clean", "-q", "-ffdx", work=copy, env=index)
        except GitError:
            # A run left something git cannot remove (say, a read-only directory): start over.
            _force_rmtree(copy)
            copy.mkdir()
            self._git("reset", "-q", "--hard", work=copy, env=index)
        _own(copy)
        return copy

    def prepare(self, edits: dict[str, str], k: int = 0) -> str:
        """Reset copy `k`, write the candidate's files into it, and return its diff to the snapshot."""
        copy = self.reset(k)
        _write(copy, edits)
        _own(copy)
        return self.diff(edits, k)

    def diff(self, edits: dict[str, str], k: int = 0) -> str:
        if not edits:
            return ""
        copy, index = self.copy_dir(k), self._index(k)
        new = [p for p in edits if self.original(p) is None]
        if new:  # -f: a new file the repository ignores is still new
            self._git("add", "-N", "-f", "--", *new, work=copy, env=index)
        return self._git(*_DIFF, "HEAD", "--", *sorted(edits), work=copy, env=index).decode("utf-8", "replace")

    def changed(self, work: Path) -> list[str]:
        """Every path in `work` that differs from the snapshot (new, changed, deleted), whatever the
        repository's attributes say: what an apply may write, checked against the candidate."""
        index = {"GIT_INDEX_FILE": str(self.dir / "check.index")}
        self._git("read-tree", "HEAD", work=work, env=index)
        self._git("add", "-A", "-f", ".", work=work, env=index)
        out = self._git(*_DIFF, "--cached", "--name-only", "-z", "HEAD", work=work, env=index)
        return sorted(p for p in out.decode("utf-8", "replace").split("\0") if p)

    def is_link(self, path: str) -> bool:
        try:
            return (self.work / path).is_symlink()
        except OSError:  # a name too long for the filesystem: not a link (writing it fails as feedback)
            return False

    def fresh(self, edits: dict[str, str]) -> Path:
        """A new directory holding the snapshot plus `edits`, for the clean re-run of a green candidate."""
        self._fresh += 1
        target = self.dir / f"verify{self._fresh}"
        target.mkdir()
        index = {"GIT_INDEX_FILE": str(self.dir / f"verify{self._fresh}.index")}
        self._git("read-tree", "HEAD", work=target, env=index)
        self._git("checkout-index", "-a", "-f", work=target, env=index)
        _write(target, edits)
        _own(target)
        return target

    def plugin_dir(self) -> Path:
        return self.dir / "plugin"

    def close(self) -> None:
        _force_rmtree(self.dir)


def _drop_git_entries(root: Path) -> None:
    """Remove every entry named `.git` below `root` (file, directory or link, never followed): git
    skips that name at any depth, so `clean` would leave one a candidate made for the next to find.
    The snapshot holds none (git never tracks one)."""
    try:
        for top, dirs, files in os.walk(root):
            for name in [n for n in (*dirs, *files) if n == ".git"]:
                path = Path(top) / name
                if path.is_dir() and not path.is_symlink():
                    _force_rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            dirs[:] = [d for d in dirs if d != ".git"]
    except OSError as exc:  # a directory made read-only: the caller starts the copy over
        raise GitError(f"cannot clear {exc.filename}: {exc.strerror}") from None


class UnsafePath(GitError):
    """A write that would leave the tree or pass through a symlink."""


def _write(root: Path, edits: dict[str, str]) -> None:
    """Write files below `root`, never through a symlink: each directory on the way is checked, and
    the file itself is opened with O_NOFOLLOW."""
    for rel, text in edits.items():
        path = root / rel
        if not _safe(path, root):
            raise UnsafePath(f"{rel} lies outside the repository or behind a symlink; not written")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not _safe(path, root) or path.is_symlink():
            raise UnsafePath(f"{rel} lies outside the repository or behind a symlink; not written")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
