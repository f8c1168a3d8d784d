"""Expanding `@pytest.mark.parametrize` and fixtures into the concrete values of each test case.

Each case gets the id pytest itself would give it (`test_roman[4-IV]`, `pytest.param(..., id="zero")`,
`ids=[...]`, stacked decorators joined bottom-up), so a failing test in the feedback can be matched to
its example.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from typing import Any

from greenloop.stub.fold import Folder, Ref, Unfoldable, bind


@dataclass
class ParamSet:
    """One parametrize row: the id part and the values by argument name (or why they cannot be folded)."""

    id: str
    values: dict[str, Any] = field(default_factory=dict)
    problem: str = ""


def dotted(node: ast.expr) -> str:
    return ast.unparse(node) if isinstance(node, ast.Name | ast.Attribute) else ""


def is_marker(node: ast.expr, name: str) -> bool:
    """`@pytest.mark.<name>(...)`, `@mark.<name>(...)` (or `@pytest.<name>` for fixture)."""
    func = node.func if isinstance(node, ast.Call) else node
    return dotted(func).split(".")[-1] == name


def _idval(value: Any, argname: str, idx: int) -> str:
    if isinstance(value, str):
        return value.encode("unicode_escape").decode("ascii") if len(value) <= 100 else f"{argname}{idx}"
    if isinstance(value, bytes):
        return value.decode("ascii", "backslashreplace")
    if value is None or isinstance(value, int | float | complex | bool):
        return str(value)
    if isinstance(value, Ref):
        return value.name  # pytest uses a function's __name__
    return f"{argname}{idx}"


def _unique(ids: list[str]) -> list[str]:
    """pytest's suffixes for duplicate ids: `a0`, `a1`; `1_0`, `1_1` after a digit."""
    if len(ids) == len(set(ids)):
        return ids
    counts = {i: ids.count(i) for i in ids}
    taken = set(ids)
    suffixes: dict[str, int] = {}
    out = []
    for i in ids:
        if counts[i] > 1:
            sep = "_" if i and i[-1].isdigit() else ""
            n = suffixes.get(i, 0)
            while f"{i}{sep}{n}" in taken:
                n += 1
            out.append(f"{i}{sep}{n}")
            suffixes[i] = n + 1
        else:
            out.append(i)
    return out


def _argnames(node: ast.expr, folder: Folder) -> list[str]:
    names = folder.fold(node)
    if isinstance(names, str):
        return [n.strip() for n in names.split(",") if n.strip()]
    if isinstance(names, list | tuple) and all(isinstance(n, str) for n in names):
        return [n.strip() for n in names]
    raise Unfoldable("argnames")


def expand_parametrize(dec: ast.Call, folder: Folder, module_nodes: dict[str, ast.expr]) -> list[ParamSet]:
    """The rows of one `parametrize` decorator; raises Unfoldable when its shape is unknown."""
    args = list(dec.args) + [None, None]
    kw = {k.arg: k.value for k in dec.keywords if k.arg}
    names_node, values_node = kw.get("argnames", args[0]), kw.get("argvalues", args[1])
    if names_node is None or values_node is None:
        raise Unfoldable("parametrize without arguments")
    names = _argnames(names_node, folder)
    if isinstance(values_node, ast.Name) and values_node.id in module_nodes:
        values_node = module_nodes[values_node.id]
    ids: list[Any] = []
    if "ids" in kw:
        try:
            ids = list(folder.fold(kw["ids"]))
        except (Unfoldable, TypeError):
            ids = []  # a callable: pytest's generated ids are close enough for matching most cases
    rows: list[tuple[ast.expr | None, list[Any] | None, str | None, str]] = []
    if isinstance(values_node, ast.List | ast.Tuple):
        for elt in values_node.elts:
            rows.append(_row(elt, names, folder))
    else:
        for value in folder.fold(values_node):  # a folded list or a comprehension
            row = list(value) if len(names) > 1 else [value]
            rows.append((None, row, None, ""))
    sets: list[ParamSet] = []
    for idx, (_, values, given, problem) in enumerate(rows):
        if given is None and idx < len(ids) and ids[idx] is not None:
            given = str(ids[idx])
        if values is None or len(values) != len(names):
            sets.append(ParamSet(given or "-".join(f"{n}{idx}" for n in names), {}, problem or "its values"))
            continue
        ident = given if given is not None else "-".join(_idval(v, n, idx) for v, n in zip(values, names, strict=True))
        sets.append(ParamSet(ident, dict(zip(names, values, strict=True))))
    for ps, ident in zip(sets, _unique([s.id for s in sets]), strict=True):
        ps.id = ident
    return sets


def _row(elt: ast.expr, names: list[str], folder: Folder) -> tuple[ast.expr, list[Any] | None, str | None, str]:
    given: str | None = None
    value_nodes: list[ast.expr]
    if isinstance(elt, ast.Call) and dotted(elt.func).split(".")[-1] == "param":
        for k in elt.keywords:
            if k.arg == "id" and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str):
                given = k.value.value
        value_nodes = list(elt.args)
    elif len(names) == 1:
        value_nodes = [elt]
    elif isinstance(elt, ast.Tuple | ast.List):
        value_nodes = list(elt.elts)
    else:
        try:
            return elt, list(folder.fold(elt)), given, ""
        except (Unfoldable, TypeError):
            return elt, None, given, f"its values {ast.unparse(elt)[:40]}"
    try:
        return elt, [folder.fold(v) for v in value_nodes], given, ""
    except Unfoldable:
        return elt, None, given, f"its values {ast.unparse(elt)[:40]}"


def combine(layers: list[list[ParamSet]]) -> list[ParamSet]:
    """Stacked decorators: `layers` bottom-up as pytest applies them; ids join in that order and
    the top decorator's rows vary fastest."""
    if not layers:
        return [ParamSet("")]
    out = []
    for parts in itertools.product(*layers):
        values: dict[str, Any] = {}
        for p in parts:
            values.update(p.values)
        out.append(ParamSet("-".join(p.id for p in parts), values, "; ".join(p.problem for p in parts if p.problem)))
    return out


@dataclass
class Fixtures:
    """Fixtures defined in the test file whose value folds to a plain value (or why not)."""

    nodes: dict[str, ast.FunctionDef] = field(default_factory=dict)

    def add(self, fn: ast.FunctionDef) -> None:
        if any(is_marker(d, "fixture") for d in fn.decorator_list):
            self.nodes[fn.name] = fn

    def expression(self, name: str) -> ast.expr | None:
        """What a fixture that is one `return expr` (or `yield expr`) returns, as written."""
        fn = self.nodes.get(name)
        body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))] if fn else []
        if len(body) != 1 or fn is None or fn.args.args:
            return None
        stmt = body[0]
        if isinstance(stmt, ast.Return):
            return stmt.value
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Yield):
            return stmt.value.value
        return None

    def value(self, name: str, folder: Folder, seen: frozenset[str] = frozenset()) -> Any:
        fn = self.nodes.get(name)
        if fn is None or name in seen:
            raise Unfoldable(f"uses the fixture {name}")
        for dec in fn.decorator_list:
            if isinstance(dec, ast.Call) and any(k.arg == "params" for k in dec.keywords):
                raise Unfoldable(f"uses the parametrized fixture {name}")
        env = dict(folder.env)
        for arg in fn.args.args:
            if arg.arg not in ("self", "request"):
                env[arg.arg] = self.value(arg.arg, folder, seen | {name})
        for stmt in fn.body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # docstring
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                bind(stmt.targets[0], Folder(env).fold(stmt.value), env)
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                return Folder(env).fold(stmt.value)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Yield) and stmt.value.value is not None:
                return Folder(env).fold(stmt.value.value)
            else:
                break
        raise Unfoldable(f"uses the fixture {name}, which is not a plain value")
