"""Every test case in a pytest file, as a doctest example on the names the tests import from the target.

Walks each test function (and `Test*` class method) once per parametrize row, with the row's values,
the file's plain fixtures and its folded locals substituted, and turns each statement about the target
into an example: `assert f(x) == v`, truthiness, `pytest.approx`, `pytest.raises(E, match=...)`, and
properties (`in`, `isinstance`, `len(...) ==`, comparisons). A test that builds state step by step
(`s = Stack(); s.push(1); assert s.pop() == 1`) becomes a short doctest session. A case that cannot be
shown is kept, with the reason, so the stub can say so. Nothing of the test file is executed.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from typing import Any

from greenloop.stub.examples import MAX_EXAMPLE_TEXT, Session, copy_node, example_text, free_names, raised_line
from greenloop.stub.fold import Folder, Ref, Unfoldable, bind
from greenloop.stub.params import Fixtures, ParamSet, combine, dotted, expand_parametrize, is_marker
from greenloop.stub.substitute import CallSite, FoldConstants, Substitute

_MAX_LOOP = 100
_MAX_CASES = 100  # examples one test case may yield (loops within loops stop there)
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class Case:
    """One example (or a note on why none) for one test case; `test_id` is pytest's id within the file."""

    test_id: str
    function: str  # the target name it shows ('' when none was found)
    text: str  # doctest lines, '' when not rendered
    kind: str  # equal | true | false | approx | raises | property | session | unrendered
    reason: str = ""
    args: tuple[Any, ...] = ()  # the folded positional arguments of the call shown, when they fold


@dataclass
class Derivation:
    targets: dict[str, str]  # the test file's local name -> the target's name
    cases: list[Case] = field(default_factory=list)
    calls: list[CallSite] = field(default_factory=list)


def derive_cases(test_source: str, module: str, names: list[str], aliases: dict[str, str]) -> Derivation:
    """The cases of `test_source`; `module` is the name of the target module where the tests import it
    whole (`import mod; mod.f(...)`), else ''."""
    tree = ast.parse(test_source)
    targets = {**{n: n for n in names}, **{real: real for real in aliases.values()}, **aliases}
    result = Derivation(targets)
    module_values: dict[str, Any] = {local: Ref(real) for local, real in targets.items()}
    module_nodes: dict[str, ast.expr] = {}
    fixtures = Fixtures()
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            module_nodes[node.targets[0].id] = node.value
            try:
                module_values[node.targets[0].id] = Folder(module_values).fold(node.value)
            except Unfoldable:
                pass
        elif isinstance(node, ast.FunctionDef):
            fixtures.add(node)
    context = _Context(module, targets, module_values, module_nodes, result)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            context.test(node, "", [], fixtures)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            class_fixtures = Fixtures(dict(fixtures.nodes))
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    class_fixtures.add(item)
            layers = context.layers(node.decorator_list)
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                    context.test(item, f"{node.name}::", layers, class_fixtures)
    return result


@dataclass
class _Context:
    module: str
    targets: dict[str, str]
    values: dict[str, Any]
    nodes: dict[str, ast.expr]
    out: Derivation

    def layers(self, decorators: list[ast.expr]) -> list[list[ParamSet]]:
        """parametrize rows per decorator, bottom-up (the order pytest applies them)."""
        found = []
        for dec in reversed(decorators):
            if isinstance(dec, ast.Call) and is_marker(dec, "parametrize"):
                try:
                    found.append(expand_parametrize(dec, Folder(self.values), self.nodes))
                except (Unfoldable, TypeError):
                    found.append([ParamSet("?", {}, f"its parametrize {ast.unparse(dec)[:50]}")])
        return found

    def test(self, fn: ast.FunctionDef, prefix: str, class_layers: list[list[ParamSet]], fixtures: Fixtures) -> None:
        try:
            self._test(fn, prefix, class_layers, fixtures)
        except RecursionError:  # a pathologically nested test: the stub says so instead of failing the run
            self.out.cases.append(Case(f"{prefix}{fn.name}", "", "", "unrendered", "it is nested too deeply to read"))

    def _test(self, fn: ast.FunctionDef, prefix: str, class_layers: list[list[ParamSet]], fixtures: Fixtures) -> None:
        layers = self.layers(fn.decorator_list) + class_layers
        for row in combine(layers):
            test_id = f"{prefix}{fn.name}" + (f"[{row.id}]" if layers else "")
            if row.problem:
                self.out.cases.append(Case(test_id, "", "", "unrendered", f"cannot fold {row.problem}"))
                continue
            walk = _Walk(self, test_id, dict(self.values) | row.values)
            for arg in fn.args.args:
                if arg.arg == "self" or arg.arg in row.values:
                    continue
                try:
                    walk.values[arg.arg] = fixtures.value(arg.arg, Folder(self.values))
                except Unfoldable as exc:
                    if not walk.fixture(arg.arg, fixtures.expression(arg.arg)):
                        walk.unknown[arg.arg] = str(exc)
            self.out.cases.extend(walk.run(fn.body))


class _Walk:
    """One test case: its statements in order, with what each local name stands for."""

    def __init__(self, context: _Context, test_id: str, values: dict[str, Any]) -> None:
        self.ctx, self.test_id = context, test_id
        self.values = values
        self.exprs: dict[str, ast.expr] = {}  # a local's own expression, to show instead of a long value
        self.symbols: dict[str, ast.expr] = {}  # a local holding what a target call returned
        self.unknown: dict[str, str] = {}  # a local that cannot be shown, and why
        self.raises: dict[str, int] = {}  # `as excinfo` -> the index of its raises example
        self.cases: list[Case] = []
        self.session_only = False
        self.bare_calls: list[ast.expr] = []
        self.fixtures: dict[str, ast.expr] = {}  # fixtures that build a target object: a session's first steps

    def fixture(self, name: str, expr: ast.expr | None) -> bool:
        """Take a fixture like `return Stack()` as a local holding what the target built."""
        if expr is None or not self.first_target(expr):
            return False
        shown = self.subst(expr, record=False)
        if self.problem(shown):
            return False
        self.symbols[name] = self.fixtures[name] = shown
        return True

    def run(self, body: list[ast.stmt]) -> list[Case]:
        self.block(body)
        if self.session_only or (not self.cases and self.bare_calls):
            text, reason = Session(self).run(body)
            used = {n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name)}
            built = [ast.Expr(e) for name, e in self.fixtures.items() if name in used]  # the object it works on
            function = self.first_target(ast.Module(built + body, []))
            return [Case(self.test_id, function, text, "session" if text else "unrendered", reason)]
        if not self.cases:
            return [Case(self.test_id, "", "", "unrendered", "no assert on the module's names found")]
        return self.cases

    def block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.stmt(stmt)

    def stmt(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
            self.assign(target, stmt.value)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            self.assign(stmt.target, ast.BinOp(ast.Name(stmt.target.id, ast.Load()), stmt.op, stmt.value))
        elif isinstance(stmt, ast.Assert):
            self.assertion(stmt.test)
        elif isinstance(stmt, ast.With):
            raises = [i for i in stmt.items if isinstance(i.context_expr, ast.Call) and is_marker(i.context_expr, "raises")]
            if raises:
                self.raised(raises[0], stmt.body)
            else:
                self.block(stmt.body)
        elif isinstance(stmt, ast.For):
            self.loop(stmt)
        elif isinstance(stmt, ast.Expr):
            self.expression(stmt.value)
        elif any(isinstance(n, ast.Assert) for n in ast.walk(stmt)):
            kind = type(stmt).__name__.lower()
            self.unrendered(f"its asserts sit inside a `{kind}` block", self.first_target(stmt))

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        for name in [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]:
            for table in (self.values, self.exprs, self.symbols, self.unknown):
                table.pop(name, None)
        if isinstance(target, ast.Attribute | ast.Subscript):
            self.session_only = True  # `obj.x = 1` changes state a later line reads
            return
        try:
            bind(target, Folder(self.values).fold(value), self.values)
            if isinstance(target, ast.Name):
                self.exprs[target.id] = self.subst(value)
            return
        except Unfoldable:
            pass
        shown = self.subst(value)
        problem = self.problem(shown)
        if isinstance(target, ast.Name) and self.first_target(shown) and not problem:
            self.symbols[target.id] = shown
            return
        for name in [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]:
            self.unknown[name] = problem or f"`{name}` is not a plain value"

    def expression(self, value: ast.expr) -> None:
        if isinstance(value, ast.Constant):
            return  # a docstring
        names = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
        if names & set(self.symbols):
            self.session_only = True  # `stack.push(1)`: the object changes between the asserts
        elif self.first_target(value):
            self.bare_calls.append(value)

    def loop(self, stmt: ast.For) -> None:
        try:
            items = list(Folder(self.values).fold(stmt.iter))
        except (Unfoldable, TypeError):
            items = None
        if items is None or len(items) > _MAX_LOOP or stmt.orelse:
            if any(isinstance(n, ast.Assert) for n in ast.walk(stmt)):
                self.unrendered(f"its asserts sit in a loop over {ast.unparse(stmt.iter)[:40]}", self.first_target(stmt))
            return
        for item in items:
            if len(self.cases) >= _MAX_CASES:
                self.unrendered(f"its loop goes on past {_MAX_CASES} examples", self.first_target(stmt))
                return
            try:
                bind(stmt.target, item, self.values)
            except Unfoldable:
                self.unrendered("its loop variables do not unpack", self.first_target(stmt))
                return
            self.block(stmt.body)

    def assertion(self, test: ast.expr) -> None:
        names = {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}
        for name in names & set(self.raises):
            index = self.raises[name]
            case = self.cases[index]
            detail = ast.unparse(test).replace(f"{name}.value", "error")
            self.cases[index] = Case(case.test_id, case.function, f"{case.text}  # and {detail}", case.kind,
                                     case.reason, case.args)
            return
        shown = self.subst(test)
        function = self.first_target(shown)
        if not function:
            return  # a check on the test's own data, not on the target
        problem = self.problem(shown)
        if problem:
            self.unrendered(problem, function)
            return
        kind, text = example_text(shown, self.ctx.targets)
        self.add(Case(self.test_id, function, text, kind, "", self.shown_args(shown)))

    def raised(self, item: ast.withitem, body: list[ast.stmt]) -> None:
        ctx = item.context_expr
        assert isinstance(ctx, ast.Call)
        call = next((s.value for s in body if isinstance(s, ast.Expr | ast.Assign | ast.AnnAssign | ast.Return)
                     and s.value is not None and self.first_target(s.value)), None)
        if call is None or not ctx.args:
            self.block(body)
            return
        shown = self.subst(call)
        function = self.first_target(shown)
        exc = self.subst(ctx.args[0])
        problem = self.problem(shown) or self.problem(exc)
        if problem:
            self.unrendered(problem, function)
            return
        line = raised_line(exc, ctx, self.values)
        self.add(Case(self.test_id, function, f">>> {ast.unparse(shown)}\nTraceback (most recent call last):\n{line}",
                      "raises", "", self.shown_args(shown)))
        if isinstance(item.optional_vars, ast.Name):
            self.raises[item.optional_vars.id] = len(self.cases) - 1

    def add(self, case: Case) -> None:
        if len(case.text) > MAX_EXAMPLE_TEXT:
            case = Case(case.test_id, case.function, "", "unrendered", "its example is too long to show")
        self.cases.append(case)

    def unrendered(self, reason: str, function: str) -> None:
        self.cases.append(Case(self.test_id, function, "", "unrendered", reason))

    def first_target(self, node: ast.AST) -> str:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in self.ctx.targets:
                return self.ctx.targets[sub.id]
            if isinstance(sub, ast.Name) and isinstance(self.values.get(sub.id), Ref):
                return str(self.values[sub.id].name)
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == self.ctx.module:
                return sub.attr
        return ""

    def problem(self, node: ast.expr, allowed: frozenset[str] = frozenset()) -> str:
        """Why `node` cannot stand alone in an example ('' when it can)."""
        approx = {id(n.func.value if isinstance(n.func, ast.Attribute) else n.func) for n in ast.walk(node)
                  if isinstance(n, ast.Call) and dotted(n.func) in ("approx", "pytest.approx")}
        for name in free_names(node, skip=approx):
            if name in self.ctx.targets.values() or name in allowed:
                continue
            if name in self.unknown:
                return self.unknown[name]
            if name not in _BUILTINS:
                return f"it uses `{name}`"
        return ""

    def shown_args(self, node: ast.expr) -> tuple[Any, ...]:
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in self.ctx.targets.values():
                try:
                    return tuple(Folder({}).fold(a) for a in call.args)
                except Unfoldable:
                    return ()
        return ()

    def subst(self, node: ast.expr, symbols: bool = True, record: bool = True,
              keep: frozenset[str] = frozenset()) -> ast.expr:
        """`node` with the test's names replaced by what they stand for (except `keep`), and what
        then folds to a short literal folded (`'z' * 10` -> `'zzzzzzzzzz'`)."""
        shown = Substitute(self, symbols, record, keep).visit(copy_node(node))
        folded = FoldConstants(frozenset(self.ctx.targets.values()) | keep).visit(shown)
        assert isinstance(folded, ast.expr)
        return folded
