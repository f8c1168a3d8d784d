"""Building the change policy for one run: which source the failing tests reach, what is a test.

Reached are the packages (or single-file modules) that the test modules import and that hold a
frame of a failing test's traceback, found through the snapshot with `ast`, never by importing.
When nothing is found (a command that is not pytest, with no traceback) every top-level package of
the repository that is not a test counts as reached.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Callable, Iterable

from greenloop.execute import Outcome, TestStatus
from greenloop.repo.context import Finder
from greenloop.repo.interpreter import Interpreter
from greenloop.repo.policy import Policy, looks_like_test, makefile_includes, roots
from greenloop.repo.traces import frames

Reader = Callable[[str], "str | None"]
_COMMAND_FILES = ("Makefile", "makefile", "GNUmakefile", "tox.ini", "noxfile.py", "justfile", "tasks.py")


def imported_modules(text: str) -> list[str]:
    """Absolute module names a Python file imports, anywhere in it."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
            found.extend(f"{node.module}.{a.name}" for a in node.names)
    return found


def reached(outcome: Outcome, test_files: Iterable[str], read: Reader, cwd: str,
            where: tuple[str, ...], output: str = "") -> list[str]:
    """Repository files holding code the tests import or the failures went through."""
    finder = Finder(read, cwd, where)
    found: list[str] = []
    for test_file in test_files:
        text = read(test_file)
        for module in imported_modules(text or ""):
            path = finder.module(module, test_file)
            if path and not looks_like_test(path):
                found.append(path)
    failing = [t for t in outcome.tests if t.status not in (TestStatus.PASSED, TestStatus.SKIPPED)]
    texts = [t.traceback + "\n" + t.message for t in failing] + [output]
    for text in texts:
        for path, _ in frames(text):
            rel = finder.repo_path(path)
            if rel and rel.endswith(".py") and not looks_like_test(rel):
                found.append(rel)
    return list(dict.fromkeys(found))


def top_packages(files: Iterable[str]) -> list[str]:
    """Every `__init__.py` and top-level module outside the tests, as fallback reach."""
    return [f for f in files if f.endswith(".py") and not looks_like_test(f) and (
        f.endswith("__init__.py") or "/" not in f or f.startswith("src/") and f.count("/") == 1)
        and posixpath.basename(f) not in ("setup.py", "conftest.py", "noxfile.py", "tasks.py")]


def command_files(args: list[str], cwd: str, files: set[str], read: Reader, program: str = "") -> set[str]:
    """The test command's own files: scripts it names, Makefiles and what they include (and, for
    `make`, the scripts their recipes run), tox/nox files."""
    found: set[str] = set()
    for arg in args:
        path = posixpath.normpath(posixpath.join(cwd, arg)) if cwd else posixpath.normpath(arg)
        if path in files:
            found.add(path)
    for name in _COMMAND_FILES:
        for base in dict.fromkeys((cwd, "")):
            path = posixpath.join(base, name) if base else name
            if path in files:
                found.add(path)
                if "akefile" in name:
                    makefiles = [path] + [posixpath.normpath(posixpath.join(base, inc))
                                          for inc in makefile_includes(read(path) or "")]
                    found.update(makefiles)
                    if posixpath.basename(program) in ("make", "gmake"):
                        text = "\n".join(read(m) or "" for m in makefiles)
                        found.update(recipe_files(text, [a for a in args if a not in files], base, files))
    return found


def recipe_files(text: str, targets: list[str], base: str, files: set[str]) -> set[str]:
    """Repository files the recipes of these Makefile targets (the first target when none is named)
    and of their prerequisites name: `python tools/check.py` runs a script that judges the code as
    surely as a test does. `-m pkg.mod` names pkg/mod.py."""
    rules: dict[str, tuple[list[str], list[str]]] = {}  # target -> (prerequisites, recipe lines)
    order: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("\t"):
            for target in current:
                rules[target][1].append(line)
            continue
        head, colon, rest = line.partition(":")
        if colon and not line.startswith((" ", "#")) and "=" not in head and not rest.startswith("="):
            current = head.split()
            for target in current:
                rules.setdefault(target, ([], []))[0].extend(rest.split(";")[0].split())
                if not target.startswith("."):
                    order.append(target)
        elif line.strip() and not line.startswith("#"):
            current = []
    todo = list(targets) or order[:1]
    seen: set[str] = set()
    found: set[str] = set()
    while todo:
        target = todo.pop()
        if target in seen or target not in rules or len(seen) > 200:
            continue
        seen.add(target)
        prerequisites, recipe = rules[target]
        todo.extend(prerequisites)
        words = " ".join(recipe).replace(";", " ").replace("&&", " ").replace("|", " ").split()
        for i, word in enumerate(words):
            word = word.strip("'\"@-()")
            if i and words[i - 1] == "-m":
                word = word.replace(".", "/") + ".py"
            path = posixpath.normpath(posixpath.join(base, word)) if base else posixpath.normpath(word)
            if path in files:
                found.add(path)
    return found


def build_policy(*, outcome: Outcome, test_files: list[str], named: list[str], opened: list[str],
                 files: list[str], snapshot: list[str], read: Reader, cwd: str, where: tuple[str, ...],
                 args: list[str], allow: tuple[str, ...], interpreter: Interpreter | None,
                 is_link: Callable[[str], bool], program: str = "") -> Policy:
    known = set(snapshot)

    def exists(path: str) -> bool:
        return path in known

    def is_dir(path: str) -> bool:
        return path == "" or any(k.startswith(path.rstrip("/") + "/") for k in known)

    modules = reached(outcome, test_files, read, cwd, where, outcome.output) or top_packages(snapshot)
    dirs, singles = roots(modules, exists)
    # A directory of test files is tests, unless it is a package of the code they test (tests beside
    # the code: then only the test files are protected).
    test_dirs = {d for d in (posixpath.dirname(f) for f in test_files) if d and (
        d not in dirs or posixpath.basename(d) in ("tests", "test", "testing"))}
    test_dirs |= {p for p in named if p and is_dir(p) and not any(d == p or d.startswith(p + "/") for d in dirs)}
    dirs = {d for d in dirs if d not in test_dirs}
    return Policy(
        allowed_dirs=dirs, allowed_files=singles | set(files), tests=set(test_files) | {p for p in named if not is_dir(p)},
        test_dirs=test_dirs, data=set(opened), command_files=command_files(args, cwd, known, read, program),
        allow=allow, interpreter=interpreter, exists=exists, is_link=is_link,
    )


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


def conflict_markers(paths: Iterable[str], read: Reader) -> str | None:
    """The first file (of those a fix may change) holding git conflict markers, or None."""
    for path in paths:
        lines = (read(path) or "").split("\n")
        if any(line.startswith("<<<<<<< ") for line in lines) and any(line.startswith(">>>>>>> ") for line in lines):
            return path
    return None
