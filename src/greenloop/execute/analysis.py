"""What a test file's source says about how it may be run (pure AST; no pytest import)."""

from __future__ import annotations

import ast


def fast_bindings(test_source: str, target: str) -> dict[str, str] | None:
    """Names the test module binds from `target` (name -> attribute, "" for the module itself),
    or None when the tests use the target at import time (decorators, module-level code, class
    bodies), where rebinding after collection would change what the tests mean."""
    tree = ast.parse(test_source)
    bindings: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == target and not node.level:
            for alias in node.names:
                if alias.name == "*":
                    return None
                bindings[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == target:
                    bindings[alias.asname or target] = ""
                elif alias.name.startswith(target + "."):
                    return None
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(target + "."):
            return None
    if not bindings:
        return None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        for part in _import_time_parts(node):
            if any(isinstance(n, ast.Name) and n.id in bindings for n in ast.walk(part)):
                return None
    return bindings


def _import_time_parts(node: ast.stmt) -> list[ast.AST]:
    """The parts of a top-level statement that run when the module is imported."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [*node.decorator_list, node.args]
    if isinstance(node, ast.ClassDef):
        parts: list[ast.AST] = [*node.decorator_list, *node.bases, *node.keywords]
        for stmt in node.body:
            parts.extend(_import_time_parts(stmt))
        return parts
    return [node]
