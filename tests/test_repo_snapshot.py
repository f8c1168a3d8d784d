"""The private snapshot holds the working tree as it is, built from git's index where it can (the
fast path) and by copying where conversions could differ (a .gitattributes): both give the same."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from greenloop.repo.workspace import Scratch, discover
from test_repo_fix import git, make_repo

FILES = {"src/a.py": "A = 1\n", "src/b.py": "B = 1\n", "src/gone.py": "G = 1\n", "run.sh": "#!/bin/sh\necho hi\n",
         ".gitignore": "*.log\n_version.py\n.env\nbuild/\n"}


def tree(root: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_file():
            found[rel] = (path.read_bytes(), bool(path.stat().st_mode & 0o100))
    return found


@pytest.mark.parametrize("attributes", [False, True], ids=["from-index", "plain-copy"])
def test_the_snapshot_is_the_working_tree_as_it_is(tmp_path: Path, attributes: bool) -> None:
    files = {**FILES, **({".gitattributes": "*.txt text\n"} if attributes else {})}
    repo = make_repo(tmp_path / "repo", files)
    (repo / "run.sh").chmod(0o755)
    os.symlink("src/a.py", repo / "link.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "more")
    (repo / "src/a.py").write_text("A = 2  # unstaged\n")
    (repo / "src/b.py").write_text("B = 2  # staged\n")
    git(repo, "add", "src/b.py")
    (repo / "src/gone.py").unlink()
    (repo / "src/new.py").write_text("N = 1\n")
    (repo / "_version.py").write_text("v = '1'\n")  # ignored, small, code: needed at import
    (repo / "debug.log").write_text("noise\n")  # ignored, not code: not copied
    (repo / ".env").write_text("TOKEN=secret\n")  # secrets-like: never copied
    (repo / "build").mkdir()
    (repo / "build" / "x.py").write_text("X = 1\n")  # an ignored directory: not copied
    scratch = Scratch(discover(repo))
    try:
        scratch.snapshot()
        copy = tree(scratch.work)
        expected = {k: v for k, v in tree(repo).items()
                    if not k.startswith((".git/", "build/")) and k not in ("debug.log", ".env")}
        assert copy == expected
        assert scratch.original("src/a.py") == "A = 2  # unstaged\n" and scratch.original("src/gone.py") is None
        assert scratch.original("link.py") is None  # a symlink is never an editable text
        assert scratch.changed(scratch.work) == []
    finally:
        scratch.close()
