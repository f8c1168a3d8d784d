"""Derive a starting stub for the target module from its tests.

Small models write a function far more reliably from a signature with a docstring of examples than from
a test file. This reads which names the tests import from the target and turns every test case into a
doctest example on them (cases.py), names the parameters and keeps the most diverse examples within a
budget (render.py). Cases it cannot show, or leaves out for the budget, are named in comments;
`StubPlan.examples_not_in` gives the examples of failing tests for the feedback.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from greenloop.stub.cases import Case, derive_cases
from greenloop.stub.render import BUDGET_CHARS, docstring, notes, parameters, result_kinds, select

__all__ = ["Case", "StubPlan", "derive_stub", "imported_names", "plan_stub"]


def imported_names(tree: ast.Module, module: str) -> tuple[list[str], bool]:
    """Names the tests take from `module`, and whether they `import module` as a whole."""
    names: list[str] = []
    whole = False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == module and not node.level:
            names.extend(a.name for a in node.names if a.name != "*" and a.name not in names)
        elif isinstance(node, ast.Import) and any(a.name == module for a in node.names):
            whole = True
    if whole:
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == module and node.attr not in names):
                names.append(node.attr)
    return names, whole


def _aliases(tree: ast.Module, module: str) -> dict[str, str]:
    """`from module import name as alias`: alias -> name."""
    return {a.asname: a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            and node.module == module and not node.level for a in node.names if a.asname}


def _raised_names(tree: ast.Module, module: str, aliases: dict[str, str]) -> set[str]:
    """Target names the tests expect to be raised (`pytest.raises(InsufficientFunds)`): exception classes."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "raises" and node.args:
            first = node.args[0]
            for sub in first.elts if isinstance(first, ast.Tuple) else [first]:
                if isinstance(sub, ast.Name):
                    found.add(aliases.get(sub.id, sub.id))
                elif isinstance(sub, ast.Attribute) and ast.unparse(sub.value) == module:
                    found.add(sub.attr)
    return found


@dataclass(frozen=True)
class StubPlan:
    """The derived stub and, for every test case, its example (or why there is none)."""

    text: str
    cases: tuple[Case, ...]
    shown: frozenset[str]  # example texts the stub shows

    def examples_not_in(self, stub: str) -> dict[str, str]:
        """Each test case's examples that `stub` does not show, by pytest id within the file: what the
        feedback adds when that test fails (the stub may be this plan's, or one the user wrote)."""
        seen = "\n" + _lines(stub) + "\n"
        found: dict[str, list[str]] = {}
        for case in self.cases:
            if case.text and "\n" + _lines(case.text) + "\n" not in seen:
                found.setdefault(case.test_id, []).append(case.text)
        return {test: "\n".join(texts) for test, texts in found.items()}


    def example_pairs(self) -> dict[str, tuple[str, str]]:
        """(call, expected lines) of each test case shown by a single `>>>` line, by test id: what a
        later prompt adds to the stub (`prompts.with_examples`) for tests a candidate fails."""
        pairs: dict[str, tuple[str, str]] = {}
        for case in self.cases:
            first, _, rest = case.text.partition("\n")
            if case.text and ">>> " not in rest and case.test_id not in pairs:
                pairs[case.test_id] = (first.removeprefix(">>> "), rest)
        return pairs


def _lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines())


def plan_stub(test_source: str, module: str, spec: str = "", budget: int = BUDGET_CHARS) -> StubPlan:
    tree = ast.parse(test_source)
    names, whole = imported_names(tree, module)
    aliases = _aliases(tree, module)
    names = [aliases.get(n, n) for n in names]
    # `mod.f` means the target only where the tests `import mod`; else `stack.push` is a local's method.
    derived = derive_cases(test_source, module if whole else "", names, aliases)
    shown = select(derived.cases, budget)
    parts = []
    if spec.strip():
        parts.append('"""' + spec.strip().replace('"""', "'''") + '\n"""')
    orphans = [c for c in derived.cases if not c.function or c.function not in names]
    errors = _raised_names(tree, module, aliases)
    called = {c.name for c in derived.calls}
    returns = result_kinds(derived.cases)
    for i, name in enumerate(dict.fromkeys(names)):
        mine = [c for c in derived.cases if c.function == name] + (orphans if i == 0 else [])
        examples = [c.text for c in shown if c.function == name]
        lines = notes(mine, [c for c in shown if c.function == name])
        if name in errors and name not in called:
            lines.append(f"class {name}(Exception):\n    pass")
        elif name.isupper() and name not in called:
            # A constant the tests read: its value where an example says it.
            value = next((t.split("\n", 1)[1] for t in examples if t.startswith(f">>> {name}\n")), "None")
            lines.append(f"{name} = {value}")
        elif name[:1].isupper():
            body = docstring(examples) if examples else "    pass\n"
            lines.append(f"class {name}:\n{body.rstrip()}")
        else:
            doc = docstring(examples) if examples else ""
            lines.append(f"def {name}({', '.join(parameters(name, derived.calls, returns))}):\n{doc}    ...")
        parts.append("\n".join(lines))
    return StubPlan("\n\n\n".join(parts) + "\n", tuple(derived.cases), frozenset(c.text for c in shown))


def derive_stub(test_source: str, module: str, spec: str = "") -> str:
    return plan_stub(test_source, module, spec).text
