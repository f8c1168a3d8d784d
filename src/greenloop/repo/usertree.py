"""The user's own tree and repository: the only place repo mode writes, and what it checks first.

`apply_to_tree` replaces files atomically after checking each still holds what the snapshot saw and
that no path leaves the repository or passes through a symlink; `commit` commits exactly those
paths and, when git refuses, puts the index (byte for byte) and the files back; `check_state`
refuses a repository in the middle of a merge, rebase, cherry-pick or revert, or with unmerged
paths, and a detached HEAD when asked to commit.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from greenloop.repo.workspace import GitError, RepoError, RepoInfo, UnsafePath, _git, _safe

_UNDECODABLE = "\x00greenloop: not UTF-8\x00"  # equal to no original: an undecodable file is a conflict


def _read_exact(path: Path) -> str | None:
    """The file's text, None when it is missing; a file that is not UTF-8 is not missing."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except UnicodeDecodeError:
        return _UNDECODABLE


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
    for rel in edits:
        if not _safe(root / rel, root) or (root / rel).is_symlink() or (root / rel).is_dir():
            raise UnsafePath(f"{rel} lies outside the repository or behind a symlink; nothing was written")
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


def commit(info: RepoInfo, paths: list[str], message: str, originals: dict[str, str | None]) -> str:
    """Commit exactly `paths` on the current branch (the user's other staged work stays staged).
    If the commit fails, the index entries and the files are put back as they were before the
    apply (`originals`), and GitError says why."""
    index = info.root / _git(["rev-parse", "--git-path", "index"], info.root).decode().strip()
    saved = index.with_name(index.name + ".greenloop-saved")
    if index.exists():
        shutil.copy2(index, saved)
    try:
        _git(["add", "--", *paths], info.root)
        _git(["commit", "-q", "-m", message, "--", *paths], info.root)
    except GitError:
        try:
            if saved.exists():
                os.replace(saved, index)  # the index exactly as it was, byte for byte
        finally:
            restore(info.root, originals)
        raise
    finally:
        saved.unlink(missing_ok=True)
    return _git(["rev-parse", "HEAD"], info.root).decode().strip()


def restore(root: Path, originals: dict[str, str | None]) -> None:
    """Put files back as the snapshot had them (None: the file did not exist)."""
    for rel, text in originals.items():
        path = root / rel
        if text is None:
            path.unlink(missing_ok=True)
        else:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)


def check_state(info: RepoInfo, will_commit: bool) -> None:
    """Refuse repositories in the middle of something: a merge, rebase, cherry-pick or revert, or
    unmerged paths; and a detached HEAD when asked to commit. Raises RepoError (one line)."""
    def exists(name: str) -> bool:
        where = _git(["rev-parse", "--git-path", name], info.root).decode().strip()
        return (info.root / where).exists()

    for name, what, abort in (("MERGE_HEAD", "a merge", "git merge --abort"),
                              ("rebase-merge", "a rebase", "git rebase --abort"),
                              ("rebase-apply", "a rebase or git am", "git rebase --abort"),
                              ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --abort"),
                              ("REVERT_HEAD", "a revert", "git revert --abort")):
        if exists(name):
            raise RepoError(f"{what} is in progress in {info.root}; finish it or abort it ({abort}) first")
    unmerged = _git(["ls-files", "-u", "-z"], info.root).decode().split("\0")
    if any(unmerged):
        path = next(e for e in unmerged if e).split("\t", 1)[-1]
        raise RepoError(f"{path} has unresolved merge conflicts; resolve them first")
    if will_commit and info.branch is None:
        raise RepoError("HEAD is detached, so --commit would commit on no branch; check out a branch first "
                        "(or leave out --commit)")


def dirty_paths(info: RepoInfo, paths: list[str]) -> list[str]:
    """Those of `paths` that differ from HEAD (the user's own uncommitted work in them)."""
    try:
        out = _git(["status", "--porcelain", "-z", "--untracked-files=all", "--", *paths], info.root)
    except GitError:
        return list(paths)
    return [entry[3:] for entry in out.decode().split("\0") if len(entry) > 3]
