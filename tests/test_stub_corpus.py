"""The stub derivation over tests/stub_corpus: 24 everyday pytest files, each with a reference solution.

The corpus is checked to be real (its tests pass against the references under pytest), the derived
cases to be the items pytest collects, every example a stub shows to hold for the reference solution,
and at least 95% of the test cases to be shown.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from greenloop.stub import plan_stub

CORPUS = Path(__file__).parent / "stub_corpus"
FILES = sorted(CORPUS.glob("case_*.py"))


def _module(source: str) -> str:
    return next(n.module for n in ast.parse(source).body
                if isinstance(n, ast.ImportFrom) and n.module and n.module != "pytest")


def _pytest(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, *map(str, FILES)],
                          cwd=CORPUS, capture_output=True, text=True, env={"PYTHONPATH": str(CORPUS / "solutions")})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def test_the_corpus_is_big_enough_and_passes_against_its_reference_solutions() -> None:
    assert len(FILES) >= 20
    summary = _pytest("-q").strip().splitlines()[-1]
    assert re.match(r"\d+ passed in", summary), summary


def test_derived_cases_are_the_items_pytest_collects() -> None:
    collected: dict[str, list[str]] = {}
    for line in _pytest("--collect-only", "-q").splitlines():
        if "::" in line:
            name, test = line.split("::", 1)
            collected.setdefault(name.rsplit("/", 1)[-1], []).append(test)
    for path in FILES:
        source = path.read_text()
        ids = list(dict.fromkeys(c.test_id for c in plan_stub(source, _module(source)).cases))
        assert ids == collected[path.name], path.name


def _reference(module: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"stub_corpus_{module}", CORPUS / "solutions" / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _docstring_examples(stub: str) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Per stub definition: its name and its (source, expected lines) examples, in order."""
    out = []
    for node in ast.parse(stub).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and ast.get_docstring(node):
            examples: list[tuple[str, list[str]]] = []
            for line in (ast.get_docstring(node) or "").splitlines():
                if line.startswith(">>> "):
                    examples.append((line[4:], []))
                elif examples:
                    examples[-1][1].append(line)
            out.append((node.name, examples))
    return out


def _check(source: str, want: list[str], namespace: dict[str, Any]) -> None:
    """One example against the reference: its value, its tolerance, or the exception it raises."""
    if want and want[0].startswith("Traceback"):
        error = want[-1].split("  # and ")[0]
        name, _, message = error.partition(": ")
        with pytest.raises(Exception) as info:
            exec(compile(source, "<example>", "exec"), namespace)  # the corpus's own reference solution
        assert type(info.value).__name__ == name
        pattern = re.search(r"the message matches '(.*)'\)$", message)
        if pattern:
            assert re.search(pattern.group(1), str(info.value))
        elif message:
            assert message in str(info.value)
        return
    try:
        code = compile(source, "<example>", "eval")
    except SyntaxError:
        exec(compile(source, "<example>", "exec"), namespace)
        assert not want
        return
    got = eval(code, namespace)
    if not want:
        return
    text, _, note = want[0].partition("  # approximately ")
    expected = ast.literal_eval(text)
    if note:
        tolerance = dict(re.findall(r"(rel|abs)=([0-9.e+-]+)", note))
        assert math.isclose(got, expected, rel_tol=float(tolerance.get("rel", 0)),
                            abs_tol=float(tolerance.get("abs", 0)))
    else:
        assert got == expected  # what the test itself asserts


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_example_in_the_stub_holds_for_the_reference_solution(path: Path) -> None:
    source = path.read_text()
    module = _module(source)
    stub = plan_stub(source, module).text
    reference = _reference(module)
    checked = 0
    for _, examples in _docstring_examples(stub):
        namespace = dict(vars(reference))  # one namespace per docstring: a session's steps share it
        for example, want in examples:
            _check(example, want, namespace)
            checked += 1
    assert checked >= 3


def test_at_least_95_percent_of_the_cases_are_shown_and_the_rest_are_named() -> None:
    total = shown = 0
    for path in FILES:
        source = path.read_text()
        plan = plan_stub(source, _module(source))
        by_test: dict[str, bool] = {}
        for case in plan.cases:
            by_test[case.test_id] = by_test.get(case.test_id, False) or case.text in plan.shown
        total += len(by_test)
        shown += sum(by_test.values())
        for test, ok in by_test.items():
            assert ok or f"# Not shown: {test} (" in plan.text or "more test case" in plan.text, (path.name, test)
    assert total >= 150
    assert shown / total >= 0.95, f"{shown}/{total}"
