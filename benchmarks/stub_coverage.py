"""Share of test cases the derived stub represents, over tests/stub_corpus, before and after.

A test case is one pytest item (a test function, or one parametrize row of it). Which calls each item
makes is observed, not derived: every corpus file runs under pytest against its reference solution
(tests/stub_corpus/solutions/), whose functions and classes record each outermost call made while an
item runs. An item is represented when the stub shows, in a `>>>` line, one of the calls it makes with
the same arguments; "calls" counts every recorded call the stub shows. The baseline is the derivation
as it was before the rewrite (`src/greenloop/stub.py`, loaded from git in this run); "after" is the
working tree's.

    .venv/bin/python benchmarks/stub_coverage.py [--corpus tests/stub_corpus] [--baseline-rev REV]
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OLD_PATH = "src/greenloop/stub.py"

Derive = Callable[[str, str], str]


def target_module(source: str) -> str:
    return next(n.module for n in ast.parse(source).body
                if isinstance(n, ast.ImportFrom) and n.module and n.module != "pytest")


def baseline_derive(rev: str | None) -> tuple[Derive, str]:
    """`derive_stub` from the last commit that had src/greenloop/stub.py (or from `rev`)."""
    if rev is None:
        removed = subprocess.run(["git", "log", "-1", "--format=%H", "--", OLD_PATH], cwd=ROOT, check=True,
                                 capture_output=True, text=True).stdout.strip()
        rev = f"{removed}^"
    source = subprocess.run(["git", "show", f"{rev}:{OLD_PATH}"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    module = types.ModuleType("greenloop_stub_baseline")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:{OLD_PATH}", "exec"), module.__dict__)  # this repository's own earlier code
    return module.derive_stub, rev


def record(corpus_file: Path, module: str, solutions: Path) -> dict[str, list[list[Any]]]:
    """Run one corpus file under pytest in a child process; {item id: [[name, args repr, kwargs repr], ...]}."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "calls.json"
        subprocess.run([sys.executable, __file__, "--record", str(corpus_file), module, str(solutions), str(out)],
                       check=True, capture_output=True, text=True, cwd=tmp)
        data: dict[str, list[list[Any]]] = json.loads(out.read_text())
        return data


def _record_main(corpus_file: str, module: str, solutions: str, out: str) -> int:
    import importlib

    import pytest

    sys.path.insert(0, solutions)
    target = importlib.import_module(module)
    calls: dict[str, list[list[Any]]] = {}
    state: dict[str, Any] = {"item": None, "depth": 0}

    def note(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if state["item"] is not None and state["depth"] == 0:
            calls.setdefault(state["item"], []).append([name, repr(args), repr(sorted(kwargs.items()))])

    def wrap(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            note(name, args, kwargs)
            state["depth"] += 1
            try:
                return func(*args, **kwargs)
            finally:
                state["depth"] -= 1
        return recorded

    def wrap_init(name: str, init: Callable[..., None]) -> Callable[..., None]:
        # `Account("x")` is recorded as a call of Account with ("x",), as the stub would show it.
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            note(name, args, kwargs)
            state["depth"] += 1
            try:
                init(self, *args, **kwargs)
            finally:
                state["depth"] -= 1
        return __init__

    for name, value in list(vars(target).items()):
        if name.startswith("_") or getattr(value, "__module__", None) != module:
            continue
        if isinstance(value, type):
            if not issubclass(value, BaseException):  # raised by the original class: left alone
                value.__init__ = wrap_init(name, value.__init__)  # type: ignore[method-assign]
        elif callable(value):
            setattr(target, name, wrap(name, value))

    class Plugin:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_protocol(self, item: Any) -> Any:
            state["item"] = item.nodeid.split("::", 1)[1]
            yield
            state["item"] = None

    code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:randomly", corpus_file], plugins=[Plugin()])
    Path(out).write_text(json.dumps(calls))
    return int(code)


def stub_calls(stub: str, names: set[str]) -> set[tuple[str, str, str]]:
    """(name, args repr, kwargs repr) of every call with literal arguments in the stub's `>>>` lines."""
    found: set[tuple[str, str, str]] = set()
    for line in stub.splitlines():
        text = line.strip()
        if not text.startswith(">>> "):
            continue
        try:
            tree = ast.parse(text[4:])
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names):
                continue
            try:
                args = tuple(ast.literal_eval(a) for a in node.args)
                kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
            except (ValueError, SyntaxError, TypeError):
                continue
            found.add((node.func.id, repr(args), repr(sorted(kwargs.items()))))
    return found


def measure(corpus: Path, derive: dict[str, Derive]) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(corpus.glob("case_*.py")):
        source = path.read_text()
        module = target_module(source)
        observed = record(path, module, corpus / "solutions")
        names = {call[0] for calls in observed.values() for call in calls}
        row: dict[str, Any] = {"file": path.name, "cases": len(observed),
                               "calls": sum(len(c) for c in observed.values())}
        for label, fn in derive.items():
            try:
                shown = stub_calls(fn(source, module), names)
            except Exception as exc:  # the baseline may crash on a shape it never handled
                print(f"{label} derivation failed on {path.name}: {exc!r}", file=sys.stderr)
                shown = set()
            row[label] = sum(any(tuple(c) in shown for c in calls) for calls in observed.values())
            row[f"{label}_calls"] = sum(tuple(c) in shown for calls in observed.values() for c in calls)
        rows.append(row)
    return rows


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--record":
        return _record_main(*sys.argv[2:])
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT / "tests" / "stub_corpus"))
    parser.add_argument("--baseline-rev", default=None, help="git revision holding src/greenloop/stub.py")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from greenloop.stub import derive_stub

    before, rev = baseline_derive(args.baseline_rev)
    rows = measure(Path(args.corpus), {"before": before, "after": derive_stub})
    print(f"baseline: {OLD_PATH} at {rev}\n")
    print("| file | cases | before | after | calls | before | after |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['file']} | {r['cases']} | {r['before']} | {r['after']} | {r['calls']} | {r['before_calls']} "
              f"| {r['after_calls']} |")
    cases, calls = sum(r["cases"] for r in rows), sum(r["calls"] for r in rows)
    for label in ("before", "after"):
        got, got_calls = sum(r[label] for r in rows), sum(r[f"{label}_calls"] for r in rows)
        print(f"\n{label}: {got}/{cases} test cases represented ({got / cases:.1%}); "
              f"{got_calls}/{calls} calls shown ({got_calls / calls:.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
