"""The private snapshot of the working tree, built from what git already knows.

Copying every file and hashing it again (`git add -A`) costs seconds on a repository of a few
hundred files. Most of a working tree is tracked and unchanged, and git already holds those files
as blobs: the private repository borrows the user's object store read-only (`objects/info/
alternates`), takes their index entries as they are, hashes only what differs (modified, untracked
and small ignored files), and writes the copy with `git checkout-index`. The bytes are the same as
a copy's only when no clean/smudge conversion stands between the index and the working tree, so a
repository with `.gitattributes`, autocrlf, submodules or a sparse/split index takes the plain copy
instead (`None`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from greenloop.repo.workspace import GitError, _git

PrivateGit = Callable[..., bytes]


def _index(root: Path) -> dict[str, tuple[str, str]] | None:
    """path -> (mode, blob) of the user's index, or None when it cannot stand for the tree."""
    entries: dict[str, tuple[str, str]] = {}
    for item in _git(["ls-files", "-s", "-z"], root).decode("utf-8", "surrogateescape").split("\0"):
        if not item:
            continue
        meta, _, path = item.partition("\t")
        mode, sha, stage = meta.split()
        if stage != "0" or mode == "160000":  # a conflict, or a submodule (its files are not blobs here)
            return None
        entries[path] = (mode, sha)
    return entries


def _converts(root: Path) -> bool:
    """Whether git may convert files between the index and the working tree here."""
    try:
        if _git(["config", "--get", "core.autocrlf"], root).strip() not in (b"", b"false"):
            return True
    except GitError:
        pass  # not set
    info = root / _git(["rev-parse", "--git-path", "info/attributes"], root).decode().strip()
    if info.exists() and info.read_text(errors="replace").strip():
        return True
    return bool(_git(["ls-files", "-z", "--", ":(glob)**/.gitattributes"], root).strip())


def _mode(path: Path) -> str:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return "120000"
    return "100755" if st.st_mode & stat.S_IXUSR else "100644"


def build(root: Path, work: Path, gitdir: Path, private: PrivateGit, kept: list[str], ignored: list[str],
          limit: int) -> int | None:
    """Record `kept` (and the small files of `ignored`) in the private repository at `gitdir` and
    write them to `work`; None when this repository needs the plain copy."""
    if _converts(root):
        return None
    index = _index(root)
    if index is None:
        return None
    changed = set(_git(["diff-files", "--name-only", "-z"], root).decode("utf-8", "surrogateescape").split("\0"))
    objects = Path(_git(["rev-parse", "--git-common-dir"], root).decode().strip())
    objects = (objects if objects.is_absolute() else root / objects) / "objects"
    (gitdir / "objects" / "info" / "alternates").write_text(f"{objects.resolve()}\n")
    entries: dict[str, tuple[str, str]] = {}
    to_hash: list[str] = []
    for rel in kept:
        source = root / rel
        if rel in index and rel not in changed and os.path.lexists(source):
            entries[rel] = index[rel]
        elif os.path.lexists(source) and (source.is_file() or source.is_symlink()):
            to_hash.append(rel)
    for rel in ignored:
        source = root / rel
        if source.is_file() and not source.is_symlink() and source.stat().st_size <= limit:
            to_hash.append(rel)
    files = [r for r in to_hash if not (root / r).is_symlink()]
    if files:
        shas = private("hash-object", "-w", "--no-filters", "--stdin-paths", work=root,
                       data="".join(f"{root / r}\n" for r in files).encode()).decode().split()
        entries.update((r, (_mode(root / r), sha)) for r, sha in zip(files, shas, strict=True))
    for rel in (r for r in to_hash if (root / r).is_symlink()):
        sha = private("hash-object", "-w", "--stdin", data=os.readlink(root / rel).encode()).decode().strip()
        entries[rel] = ("120000", sha)
    listing = "".join(f"{mode} {sha}\t{rel}\0" for rel, (mode, sha) in sorted(entries.items()))
    private("update-index", "-z", "--index-info", data=listing.encode("utf-8", "surrogateescape"))
    tree = private("write-tree").decode().strip()
    commit = private("commit-tree", tree, "-m", "snapshot").decode().strip()
    private("update-ref", "HEAD", commit)
    private("checkout-index", "-a", "-f", "-u")
    return len(kept)
