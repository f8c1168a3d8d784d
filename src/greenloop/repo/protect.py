"""Which paths the model may not edit: the tests the command runs and what configures them.

A fix that edits the tests is not a fix. Protected are the files the test command collects (or
names), every `conftest.py`, files that configure pytest, and anything that looks like a test
(`test_*.py`, `*_test.py`, or under a `tests`/`test`/`testing` directory), since a command other
than pytest does not say which files it reads.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable

_CONFIG = ("pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")
_TEST_DIRS = ("tests", "test", "testing")


def looks_like_test(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (any(p in _TEST_DIRS for p in parts[:-1]) or fnmatch.fnmatch(name, "test_*.py")
            or fnmatch.fnmatch(name, "*_test.py"))


class Protection:
    """Callable: the reason a path may not be edited, or None."""

    def __init__(self, collected: list[str], named: list[str], is_dir: Callable[[str], bool]) -> None:
        self.collected = set(collected)
        self.files = {p for p in named if not is_dir(p)}
        self.dirs = tuple(p.rstrip("/") + "/" for p in named if is_dir(p) and p not in ("", "."))

    def __call__(self, path: str) -> str | None:
        name = posixpath.basename(path)
        fix = "tests are never edited: change the code under test"
        if path in self.collected:
            return f"{path} holds tests the command runs; {fix}"
        if path in self.files:
            return f"{path} is named by the test command; {fix}"
        if name == "conftest.py":
            return f"{path} is test configuration; {fix}"
        if name in _CONFIG:
            return f"{path} configures the tests; {fix}"
        if looks_like_test(path) or (path.startswith(self.dirs) and self.dirs and not path.endswith(".py")):
            return f"{path} is a test file; {fix}"
        return None


def command_paths(args: list[str], cwd: str, exists: Callable[[str], bool]) -> list[str]:
    """Repository-relative paths among the command's arguments that exist in the snapshot."""
    found = []
    for arg in args:
        if arg.startswith("/"):
            continue
        path = posixpath.normpath(posixpath.join(cwd, arg)) if cwd else posixpath.normpath(arg)
        if not path.startswith("..") and exists(path):
            found.append("" if path == "." else path)
    return found
