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


# Modules whose use means values that cannot cross by value, or effects the candidate's process
# keeps to itself (its warnings, its log records, its event loop).
_SHARED_MODULES = {"numpy", "pandas", "asyncio", "unittest", "mock", "pickle", "copyreg", "weakref", "gc",
                   "inspect", "ctypes", "warnings", "logging", "multiprocessing", "trio", "anyio", "torch"}
_SHARED_NAMES = {"monkeypatch", "caplog", "recwarn", "mocker", "id", "vars", "globals", "patch"}
_INTROSPECTION = {"__dict__", "__globals__", "__code__", "__closure__", "__defaults__", "__kwdefaults__",
                  "__module__", "__wrapped__", "__signature__", "__annotations__", "__class__", "__subclasses__"}
_CONSTANTS = (type(None), bool, type(...))


def split_problem(test_source: str, target: str) -> str:
    """Why these tests cannot be judged in a process apart from the candidate's, or "".

    The split judge runs the tests against a proxy of the target whose values cross by value and
    whose objects cross as handles. Tests that reach into the target module (patch it, assign
    to it, read its internals), need identity or objects that cannot cross, or watch effects
    inside the candidate's process (warnings, logging) are judged in the shared process."""
    tree = ast.parse(test_source)
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            root = node.module.split(".")[0]
            if node.module.startswith(target + "."):
                return f"imports a submodule of {target}"
            if node.module == target:
                bound.update(a.asname or a.name for a in node.names)
            elif root in _SHARED_MODULES:
                return f"uses {root}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                root = alias.name.split(".")[0]
                if alias.name.startswith(target + "."):
                    return f"imports a submodule of {target}"
                if alias.name == target:
                    bound.add(alias.asname or target)
                elif root in _SHARED_MODULES:
                    return f"uses {root}"
    for node in ast.walk(tree):
        why = _shared_node(node, bound, target)
        if why:
            return why
    return ""


def _shared_node(node: ast.AST, bound: set[str], target: str) -> str:
    if isinstance(node, (ast.AsyncFunctionDef, ast.Await)):
        return "uses async code"
    if isinstance(node, ast.Name) and node.id in _SHARED_NAMES:
        return f"uses {node.id}"
    if isinstance(node, ast.Attribute) and node.attr in _INTROSPECTION:
        return f"reads {node.attr}"
    if isinstance(node, ast.Attribute) and node.attr == "modules" and _root_name(node) == "sys":
        return "uses sys.modules"
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for target_node in targets:
            if isinstance(target_node, (ast.Attribute, ast.Subscript)) and _root_name(target_node) in bound:
                return f"assigns into {_root_name(target_node)} from {target}"
    if isinstance(node, ast.ClassDef):
        if any(_root_name(b) in bound for b in node.bases):
            return f"subclasses a class from {target}"
        if not node.name.startswith("Test"):
            return f"defines class {node.name} (its instances cannot cross to the candidate)"
    if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops):
        operands = [node.left, *node.comparators]
        if not any(isinstance(o, ast.Constant) and isinstance(o.value, _CONSTANTS) for o in operands):
            return "compares identity (`is`)"
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(target + "."):
        return f"names {node.value} by string"
    return ""


def _root_name(node: ast.AST) -> str:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def skip_marked(test_source: str) -> frozenset[str] | None:
    """Names of the test functions and classes the source itself marks skip/skipif (a skip counts
    only for them, whatever marks appear at run time), or None when the source skips more broadly
    (a module-level `pytestmark`, `pytest.skip` or `importorskip` outside a test)."""
    tree = ast.parse(test_source)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in node.decorator_list:
                if any(isinstance(n, ast.Attribute) and n.attr in ("skip", "skipif") for n in ast.walk(decorator)):
                    names.add(node.name)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for part in ast.walk(node):
            if isinstance(part, ast.Name) and part.id == "pytestmark":
                return None
            if isinstance(part, ast.Attribute) and part.attr in ("skip", "importorskip"):
                return None
    return frozenset(names)
