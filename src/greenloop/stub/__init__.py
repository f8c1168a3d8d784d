"""Derive a starting stub for the target module from its tests.

Small models write a function far more reliably from a signature with a docstring of examples than from
a test file. This reads which names the tests import from the target, how they are called, and
turns `assert f(args) == value` / `pytest.raises(E): f(args)` into doctest-style examples.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

_MAX_EXAMPLES = 6


@dataclass
class _Name:
    name: str
    arity: int = 0
    keywords: list[str] = field(default_factory=list)
    param_names: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    literal_kinds: dict[int, str] = field(default_factory=dict)  # position -> a parameter name by type


def imported_names(tree: ast.Module, module: str) -> tuple[list[str], bool]:
    """Names the tests take from `module`, and whether they `import module` as a whole."""
    names: list[str] = []
    whole = False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == module and not node.level:
            names.extend(a.name for a in node.names if a.name != "*")
        elif isinstance(node, ast.Import) and any(a.name == module for a in node.names):
            whole = True
    if whole:
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == module and node.attr not in names):
                names.append(node.attr)
    return names, whole


def _called_name(call: ast.Call, module: str) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == module:
        return func.attr
    return None


def _example_call(call: ast.Call, module: str) -> str:
    text = ast.unparse(call)
    return text.removeprefix(module + ".")


def derive_stub(test_source: str, module: str, spec: str = "") -> str:
    tree = ast.parse(test_source)
    names, _ = imported_names(tree, module)
    info = {n: _Name(n) for n in names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _called_name(node, module)
            if name in info:
                entry = info[name]
                entry.arity = max(entry.arity, len(node.args))
                entry.keywords += [k.arg for k in node.keywords if k.arg and k.arg not in entry.keywords]
                if not entry.param_names and all(isinstance(a, ast.Name) for a in node.args):
                    entry.param_names = [a.id for a in node.args if isinstance(a, ast.Name)]
                for i, arg in enumerate(node.args):
                    if i not in entry.literal_kinds and isinstance(arg, ast.Constant | ast.List | ast.Dict | ast.Tuple):
                        entry.literal_kinds[i] = _kind_name(arg)
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1:
            left, right = node.test.left, node.test.comparators[0]
            if isinstance(node.test.ops[0], ast.Eq) and isinstance(left, ast.Call):
                name = _called_name(left, module)
                if name in info and len(info[name].examples) < _MAX_EXAMPLES and _is_literalish(right):
                    info[name].examples.append(f">>> {_example_call(left, module)}\n{ast.unparse(right)}")
        if isinstance(node, ast.With):
            for item in node.items:
                ctx = item.context_expr
                if (isinstance(ctx, ast.Call) and isinstance(ctx.func, ast.Attribute) and ctx.func.attr == "raises"
                        and ctx.args):
                    for stmt in node.body:
                        for call in ast.walk(stmt):
                            if isinstance(call, ast.Call):
                                name = _called_name(call, module)
                                if name in info and len(info[name].examples) < _MAX_EXAMPLES:
                                    info[name].examples.append(
                                        f">>> {_example_call(call, module)}\n"
                                        f"Traceback (most recent call last):\n{ast.unparse(ctx.args[0])}"
                                    )
                                    break
    parts = []
    if spec.strip():
        parts.append('"""' + spec.strip().replace('"""', "'''") + '\n"""')
    for entry in info.values():
        parts.append(_render(entry))
    return "\n\n\n".join(parts) + "\n"


def _is_literalish(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return len(ast.unparse(node)) <= 120


def _render(entry: _Name) -> str:
    if entry.name[:1].isupper():
        return f"class {entry.name}:\n    pass"
    params = list(entry.param_names[: entry.arity])
    generic = iter("abcdefgh")
    while len(params) < entry.arity:
        candidate = entry.literal_kinds.get(len(params), "")
        if not candidate or candidate in params:
            candidate = next(generic)
        if candidate not in params:
            params.append(candidate)
    params += [f"{k}=None" for k in entry.keywords if k not in params]
    doc = ""
    if entry.examples:
        body = "\n".join(entry.examples).replace("\n", "\n    ")
        doc = f'    """\n    {body}\n    """\n'
    return f"def {entry.name}({', '.join(params)}):\n{doc}    ..."


def _kind_name(node: ast.expr) -> str:
    """A readable parameter name for a literal argument: 'hello' -> text, 3 -> n, [..] -> items."""
    if isinstance(node, ast.List | ast.Tuple):
        return "items"
    if isinstance(node, ast.Dict):
        return "mapping"
    value = getattr(node, "value", None)
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int):
        return "n"
    if isinstance(value, float):
        return "x"
    return ""
