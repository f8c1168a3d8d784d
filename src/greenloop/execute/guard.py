"""Equality checks that a candidate cannot fake, and the AST rewrite that installs them.

`assert f(x) == expected` is rewritten to `assert __gl_eq__(f(x), expected, "f(x)", "expected")`.
The check fails when equality holds only because an object defined by the candidate claims it
(an `__eq__` that always returns True), and remembers actual vs expected for the feedback.
Line numbers are preserved, so tracebacks still point into the user's test file.
"""

from __future__ import annotations

import ast
from typing import Any

GUARD_NAME = "__gl_eq__"
_PLAIN = (int, float, complex, str, bytes, bool, type(None), list, tuple, dict, set, frozenset)
_REPR_LIMIT = 300


def short_repr(value: Any, limit: int = _REPR_LIMIT) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a candidate's __repr__ may raise
        text = f"<unrepresentable {type(value).__name__}: {exc!r}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class EqualityGuard:
    """Callable installed as `__gl_eq__`; `untrusted_dirs` hold the candidate's code."""

    def __init__(self, untrusted_dirs: tuple[str, ...]) -> None:
        self.untrusted_dirs = untrusted_dirs
        self.last: dict[str, str] | None = None

    def __call__(self, actual: Any, expected: Any, actual_src: str, expected_src: str) -> bool:
        equal = bool(actual == expected)
        reason = ""
        if equal:
            reason = self._dishonest(actual, expected, 0) or ""
            if not reason:
                return True
        self.last = {
            "expression": actual_src,
            "actual": short_repr(actual),
            "expected": short_repr(expected),
            "expected_expression": expected_src,
            "reason": reason,
        }
        return False

    def _defined_by_candidate(self, cls: type) -> bool:
        for klass in cls.__mro__:
            eq = klass.__dict__.get("__eq__")
            code = getattr(eq, "__code__", None)
            if code is not None and code.co_filename.startswith(self.untrusted_dirs):
                return True
        return False

    def _dishonest(self, a: Any, b: Any, depth: int) -> str | None:
        """Why `a == b` cannot be trusted, or None. Walks plain containers (bounded)."""
        if depth > 20:
            return None
        for x, other in ((a, b), (b, a)):
            if type(other) in _PLAIN and type(x) not in _PLAIN:
                honest = type(other).__eq__(other, x)  # type: ignore[call-arg]
                if honest is not True and self._defined_by_candidate(type(x)):
                    return (
                        f"{type(x).__name__} defines __eq__ that claims equality with "
                        f"{short_repr(other, 60)}; return a real value instead"
                    )
        if type(a) in (list, tuple) and type(b) in (list, tuple) and len(a) == len(b):
            for x, y in zip(a[:1000], b[:1000], strict=True):
                why = self._dishonest(x, y, depth + 1)
                if why:
                    return why
        if type(a) is dict and type(b) is dict:
            for key in list(a)[:1000]:
                if key in b:
                    why = self._dishonest(a[key], b[key], depth + 1)
                    if why:
                        return why
        return None


class _AssertEqRewriter(ast.NodeTransformer):
    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        test = node.test
        if (
            isinstance(test, ast.Compare)
            and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)
        ):
            left, right = test.left, test.comparators[0]
            call = ast.Call(
                func=ast.Name(id=GUARD_NAME, ctx=ast.Load()),
                args=[left, right, ast.Constant(ast.unparse(left)), ast.Constant(ast.unparse(right))],
                keywords=[],
            )
            node.test = ast.copy_location(call, test)
            ast.fix_missing_locations(node)
        return node


def rewrite_equality_asserts(tree: ast.Module) -> None:
    """Rewrite `assert a == b` in place and bind the guard at the top of the module."""
    _AssertEqRewriter().visit(tree)
    # Bind the guard before any import of the candidate runs, from a module the test already has.
    binding = ast.parse(
        f"from greenloop.execute.reporter import equality_guard as {GUARD_NAME}"
    ).body[0]
    position = 0
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        position = 1
    while position < len(body) and isinstance(body[position], ast.ImportFrom) and body[position].module == "__future__":  # type: ignore[attr-defined]
        position += 1
    for n in ast.walk(binding):
        n.lineno = n.end_lineno = 1  # type: ignore[attr-defined]
        n.col_offset = n.end_col_offset = 0  # type: ignore[attr-defined]
    body.insert(position, binding)
