"""How a test reads as doctest lines: one assert as an example, or a stateful test as a session.

`assert f(x) == v` shows `>>> f(x)` / `v`; truthiness shows `True` / `False`; `pytest.approx` and
`abs(f(x) - v) < tol` show the value with its tolerance; any other property (`in`, `isinstance`,
comparisons) shows the expression and `True`.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

from greenloop.stub.fold import Folder, Unfoldable
from greenloop.stub.params import dotted, is_marker

if TYPE_CHECKING:
    from greenloop.stub.cases import _Walk

MAX_EXAMPLE_TEXT = 400
_REGEX_SPECIAL = re.compile(r"[.^$*+?{}\[\]|()\\]")


class Session:
    """A test that builds state step by step, as one doctest session."""

    def __init__(self, walk: _Walk) -> None:
        self.walk = walk
        self.defined: set[str] = set()
        self.assigned: frozenset[str] = frozenset()

    def run(self, body: list[ast.stmt]) -> tuple[str, str]:
        """(doctest lines, '') or ('', why it cannot be shown)."""
        lines: list[str] = []
        # The session's own variables stay variables: a later line may read what a call changed in them.
        self.assigned = frozenset(n.id for stmt in body for n in ast.walk(stmt)
                                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)) | set(self.walk.fixtures)
        used = {n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name)}
        for name, built in self.walk.fixtures.items():
            if name in used:
                lines.append(f">>> {name} = {ast.unparse(built)}")  # the fixture, as the session's first step
                self.defined.add(name)
        try:
            for stmt in body:
                lines += self.stmt(stmt)
        except Unfoldable as exc:
            return "", str(exc)
        text = "\n".join(lines)
        if len(text) > MAX_EXAMPLE_TEXT or not lines:
            return "", "its steps are too long to show"
        return text, ""

    def show(self, node: ast.expr) -> ast.expr:
        shown = self.walk.subst(node, symbols=False, record=False, keep=self.assigned)
        problem = self.walk.problem(shown, frozenset(self.defined))
        if problem:
            raise Unfoldable(problem)
        return shown

    def stmt(self, stmt: ast.stmt) -> list[str]:
        w = self.walk
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return []
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            text = f">>> {ast.unparse(target if isinstance(target, ast.Name) else self.show(target))} = " \
                   f"{ast.unparse(self.show(stmt.value))}"
            self.defined |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
            return [text]
        if isinstance(stmt, ast.Expr):
            return [f">>> {ast.unparse(self.show(stmt.value))}"]
        if isinstance(stmt, ast.Assert):
            _, text = example_text(self.show(stmt.test), w.ctx.targets)
            return text.splitlines()
        if isinstance(stmt, ast.With) and stmt.items and isinstance(stmt.items[0].context_expr, ast.Call) \
                and is_marker(stmt.items[0].context_expr, "raises") and stmt.body:
            raises = stmt.items[0].context_expr
            exc = raised_line(self.show(raises.args[0]), raises, w.values)
            first = stmt.body[0]
            call = first.value if isinstance(first, ast.Expr | ast.Assign) else None
            if call is None:
                raise Unfoldable("a pytest.raises block it cannot show")
            return [f">>> {ast.unparse(self.show(call))}", "Traceback (most recent call last):", exc]
        raise Unfoldable(f"a `{type(stmt).__name__.lower()}` statement it cannot show")


def raised_line(exc: ast.expr, raises: ast.Call, values: dict[str, Any]) -> str:
    """The doctest's last line for `pytest.raises(E, match=...)`: `E: message`, or the pattern when
    it is a real regular expression."""
    line = ast.unparse(exc)
    match = next((k.value for k in raises.keywords if k.arg == "match"), None)
    if match is not None:
        try:
            pattern = str(Folder(values).fold(match))
        except Unfoldable:
            pattern = ast.unparse(match)
        plain = re.sub(r"\\(.)", r"\1", pattern)
        special = _REGEX_SPECIAL.search(re.sub(r"\\.", "", pattern))
        line += f": {plain}" if not special else f": ... (the message matches {pattern!r})"
    return line


def example_text(test: ast.expr, targets: dict[str, str]) -> tuple[str, str]:
    """(kind, doctest lines) for an assert's (substituted) test expression."""
    names = set(targets.values())

    def has_target(node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))

    def is_call(node: ast.AST) -> bool:
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names

    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, op, right = test.left, test.ops[0], test.comparators[0]
        if isinstance(op, ast.Eq | ast.Is) and has_target(right) and not has_target(left):
            left, right = right, left
        if isinstance(op, ast.Eq) and isinstance(right, ast.Call) and dotted(right.func).endswith("approx") \
                and right.args:
            tolerance = ", ".join(f"{k.arg}={ast.unparse(k.value)}" for k in right.keywords if k.arg in ("rel", "abs"))
            return "approx", f">>> {ast.unparse(left)}\n{ast.unparse(right.args[0])}  # approximately " \
                             f"({tolerance or 'rel=1e-06'})"
        if isinstance(op, ast.Eq) and not has_target(right):
            return ("equal" if is_call(left) else "property"), f">>> {ast.unparse(left)}\n{ast.unparse(right)}"
        if isinstance(op, ast.Is) and isinstance(right, ast.Constant) and isinstance(right.value, bool):
            return ("true" if right.value else "false"), f">>> {ast.unparse(left)}\n{right.value}"
        inner = left.args[0] if isinstance(left, ast.Call) and dotted(left.func) == "abs" and left.args else None
        if isinstance(op, ast.Lt | ast.LtE) and isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Sub) \
                and has_target(inner.left) and not has_target(inner.right):
            return "approx", f">>> {ast.unparse(inner.left)}\n{ast.unparse(inner.right)}  # approximately " \
                             f"(abs={ast.unparse(right)})"
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return ("false" if is_call(test.operand) else "property"), f">>> {ast.unparse(test.operand)}\nFalse"
    return ("true" if is_call(test) else "property"), f">>> {ast.unparse(test)}\nTrue"


def free_names(node: ast.AST, skip: set[int] | None = None) -> list[str]:
    """Names `node` reads that nothing inside it binds (comprehension targets, lambda arguments);
    `skip` holds the ids of Name nodes to leave out (`pytest` in `pytest.approx`)."""
    bound: set[str] = set()
    for sub in ast.walk(node):
        for gen in getattr(sub, "generators", []):
            bound |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        if isinstance(sub, ast.Lambda):
            bound |= {a.arg for a in sub.args.args}
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id not in bound and sub.id not in found \
                and id(sub) not in (skip or set()):
            found.append(sub.id)
    return found


def copy_node(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body
