"""Where a failing run points in the code a fix may change: the lines local repair mutates first.

Two sources, most specific first:
- the lines the failing tests' tracebacks pass through in editable files (an exception raised in
  the code under test names its line);
- the bodies of the functions the failing tests name (a wrong value fails in the test's own
  assert, so its traceback never enters the code that computed it), and of the functions those
  call in the same file, one hop.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from greenloop.execute import Outcome, TestStatus
from greenloop.repo.context import Finder
from greenloop.repo.traces import frames

Reader = Callable[[str], str | None]


def traceback_lines(outcome: Outcome, finder: Finder, editable: set[str]) -> dict[str, set[int]]:
    """Editable file -> lines a failing test's traceback passed through (innermost frames first in order)."""
    found: dict[str, set[int]] = {}
    for test in outcome.tests:
        if test.status is TestStatus.PASSED:
            continue
        for raw, line in reversed(frames(test.traceback + "\n" + test.message)):
            path = finder.repo_path(raw)
            if path in editable:
                found.setdefault(path, set()).add(line)
    return found


def function_lines(paths: list[str], read: Reader, names: set[str]) -> dict[str, set[int]]:
    """File -> lines of the functions (and methods) called `names` there, and of the same file's
    functions they call."""
    found: dict[str, set[int]] = {}
    for path in paths:
        text = read(path)
        try:
            tree = ast.parse(text or "")
        except (SyntaxError, ValueError):
            continue
        defs = {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        chosen = [d for name, d in defs.items() if name in names]
        called = {c.func.id if isinstance(c.func, ast.Name) else c.func.attr
                  for d in chosen for c in ast.walk(d) if isinstance(c, ast.Call)
                  and isinstance(c.func, (ast.Name, ast.Attribute))}
        chosen += [defs[name] for name in called if name in defs and defs[name] not in chosen]
        lines = {line for d in chosen for line in range(d.lineno, (d.end_lineno or d.lineno) + 1)}
        if lines:
            found[path] = lines
    return found
