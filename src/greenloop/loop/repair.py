"""Local repair without the model: cheap single mutations of a close candidate.

A weak model's near misses are often one token away from right: `<` for `<=`, `range(n)` for
`range(n + 1)`, `x[i]` for `x[i - 1]`, arguments in the wrong order, a boundary constant off by
one, `max(xs)` for `max(xs, key=len)`, a generator returned where a list is expected. `mutants` lists such single edits, most promising first (edits on the lines where a test
failed come first), and the search runs them at executor speed before spending a model call.
"""

from __future__ import annotations

import ast
import copy
import difflib
import io
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_COMPARE_SWAPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt, ast.LtE),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}
_BINOP_SWAPS: dict[type[ast.operator], tuple[type[ast.operator], ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.FloorDiv,), ast.FloorDiv: (ast.Div, ast.Mod),
    ast.Div: (ast.FloorDiv,), ast.Mod: (ast.FloorDiv,),
}
# Calls whose argument order is either irrelevant or never the bug.
_COMMUTATIVE_OR_FIXED = {"min", "max", "zip", "range", "isinstance", "getattr", "hasattr", "print", "setattr", "map",
                         "filter", "enumerate", "sorted", "str", "int"}
_SWAPPABLE_CALLS = {"min": "max", "max": "min", "any": "all", "all": "any"}
# Kinds in the order they tend to pay off; the order decides which mutants run first.
KINDS = ("compare", "off-by-one", "key", "constant", "shape", "swap", "operator", "logic")
# In a user's file (repo mode) each mutant costs a run of the test command: the kinds of seeded and
# everyday bugs first (a wrong comparison, bound or operator), the model's habits (shapes, keys) last.
KINDS_IN_PLACE = ("compare", "off-by-one", "operator", "logic", "constant", "swap", "key", "shape")
# What a returned value is often one conversion away from: a list for a generator, an int for a float...
_SHAPES = ("list({})", "sorted({})", "int({})", "str({})", "''.join({})", "{}[::-1]", "not {}")
_KEYED_CALLS = {"max", "min", "sorted"}


@dataclass(frozen=True)
class Mutant:
    kind: str
    line: int
    description: str
    code: str


Edit = Callable[[ast.AST], str]  # mutates the node in place (on a copy of the tree), says what changed


def _edits(node: ast.AST) -> Iterator[tuple[str, Edit]]:
    """Every single edit we know for this node, as (kind, edit)."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for new in _COMPARE_SWAPS.get(type(op), ()):
                yield "compare", _set_op(i, new)
    elif isinstance(node, ast.BinOp):
        if not isinstance(node.op, (ast.Add, ast.Mult)) and not _is_literal(node.left) and not _is_literal(node.right):
            yield "swap", _swap_operands
        for operator in _BINOP_SWAPS.get(type(node.op), ()):
            yield "operator", _set_binop(operator)
    elif isinstance(node, ast.BoolOp):
        yield "logic", _flip_boolop
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "logic", _drop_not
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "range":
            for i in range(len(node.args)):
                for delta in (1, -1):
                    yield "off-by-one", _shift_arg(i, delta)
        if node.func.id in _SWAPPABLE_CALLS:
            yield "swap", _rename_call
        if len(node.args) == 2 and not node.keywords and node.func.id not in _COMMUTATIVE_OR_FIXED:
            yield "swap", _swap_args
        if node.func.id == "sorted":
            yield "logic", _flip_reverse
        if node.func.id in _KEYED_CALLS and node.args and not any(k.arg == "key" for k in node.keywords):
            for key in ("len", "abs"):
                yield "key", _add_key(key)
    elif isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice) and not _is_str(node.slice):
        for delta in (1, -1):
            yield "off-by-one", _shift_index(delta)
    elif isinstance(node, ast.Slice):
        if node.step is not None and ast.unparse(node.step) == "-1":
            yield "logic", _drop_reverse
        for field in ("lower", "upper"):
            if getattr(node, field) is not None:
                for delta in (1, -1):
                    yield "off-by-one", _shift_slice(field, delta)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        value: int = node.value
        for number in sorted({value + 1, value - 1, 0, 1} - {value}, key=lambda v: abs(v - value)):
            yield "constant", _set_constant(number)
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        yield "constant", _set_constant(not node.value)
    elif isinstance(node, ast.Return) and node.value is not None and not _is_literal(node.value):
        for shape in _SHAPES:
            yield "shape", _reshape(shape)
    elif isinstance(node, ast.AugAssign):
        for augmented in _BINOP_SWAPS.get(type(node.op), ()):
            yield "operator", _set_binop(augmented)


def _is_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant)


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _set_op(i: int, new: type[ast.cmpop]) -> Edit:
    def edit(node: ast.AST) -> str:
        assert isinstance(node, ast.Compare)
        node.ops[i] = new()
        return f"comparison -> `{ast.unparse(node)}`"
    return edit


def _set_binop(new: type[ast.operator]) -> Edit:
    def edit(node: ast.AST) -> str:
        assert isinstance(node, (ast.BinOp, ast.AugAssign))
        node.op = new()
        return f"operator -> `{ast.unparse(node)}`"
    return edit


def _swap_operands(node: ast.AST) -> str:
    assert isinstance(node, ast.BinOp)
    node.left, node.right = node.right, node.left
    return f"swapped operands -> `{ast.unparse(node)}`"


def _drop_not(node: ast.AST) -> str:
    assert isinstance(node, ast.UnaryOp)
    node.operand = ast.UnaryOp(ast.Not(), node.operand)  # `not not x`: the truth of x, without the `not`
    return f"dropped `not` -> `{ast.unparse(node)}`"


def _flip_boolop(node: ast.AST) -> str:
    assert isinstance(node, ast.BoolOp)
    node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    return f"and/or -> `{ast.unparse(node)}`"


def _shift_arg(i: int, delta: int) -> Edit:
    def edit(node: ast.AST) -> str:
        assert isinstance(node, ast.Call)
        node.args[i] = _plus(node.args[i], delta)
        return f"range bound -> `{ast.unparse(node)}`"
    return edit


def _rename_call(node: ast.AST) -> str:
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    node.func = ast.Name(_SWAPPABLE_CALLS[node.func.id], ast.Load())
    return f"call -> `{ast.unparse(node)}`"


def _swap_args(node: ast.AST) -> str:
    assert isinstance(node, ast.Call)
    node.args = [node.args[1], node.args[0]]
    return f"swapped arguments -> `{ast.unparse(node)}`"


def _flip_reverse(node: ast.AST) -> str:
    assert isinstance(node, ast.Call)
    rest = [k for k in node.keywords if k.arg != "reverse"]
    had = len(rest) != len(node.keywords)
    node.keywords = rest if had else [*rest, ast.keyword("reverse", ast.Constant(True))]
    return f"sort order -> `{ast.unparse(node)}`"


def _reshape(shape: str) -> Edit:
    def edit(node: ast.AST) -> str:
        assert isinstance(node, ast.Return) and node.value is not None
        node.value = ast.parse(shape.format(f"({ast.unparse(node.value)})"), mode="eval").body
        return f"returned value -> `{ast.unparse(node.value)}`"
    return edit


def _add_key(key: str) -> Edit:
    def edit(node: ast.AST) -> str:
        assert isinstance(node, ast.Call)
        node.keywords = [*node.keywords, ast.keyword("key", ast.Name(key, ast.Load()))]
        return f"ordering key -> `{ast.unparse(node)}`"
    return edit


def _drop_reverse(node: ast.AST) -> str:
    assert isinstance(node, ast.Slice)
    node.step = None
    return "dropped the `[::-1]` reversal"


def _shift_index(delta: int) -> Edit:
    def edit(node: ast.AST) -> str:
        assert isinstance(node, ast.Subscript)
        node.slice = _plus(node.slice, delta)
        return f"index -> `{ast.unparse(node)}`"
    return edit


def _shift_slice(field: str, delta: int) -> Edit:
    def edit(node: ast.AST) -> str:
        setattr(node, field, _plus(getattr(node, field), delta))
        return f"slice bound -> `{ast.unparse(node)}`"
    return edit


def _set_constant(value: int | bool) -> Edit:
    def edit(node: ast.AST) -> str:
        assert isinstance(node, ast.Constant)
        before = node.value
        node.value = value
        return f"constant {before!r} -> {value!r}"
    return edit


def _plus(expr: ast.expr, delta: int) -> ast.expr:
    """`expr + delta`, folding `x + 1` - 1 back to `x` and constants to constants."""
    if isinstance(expr, ast.Constant) and type(expr.value) is int:
        return ast.Constant(expr.value + delta)
    if isinstance(expr, ast.BinOp) and isinstance(expr.right, ast.Constant) and type(expr.right.value) is int \
            and isinstance(expr.op, (ast.Add, ast.Sub)):
        value = expr.right.value if isinstance(expr.op, ast.Add) else -expr.right.value
        total = value + delta
        if total == 0:
            return expr.left
        return ast.BinOp(expr.left, ast.Add() if total > 0 else ast.Sub(), ast.Constant(abs(total)))
    return ast.BinOp(expr, ast.Add() if delta > 0 else ast.Sub(), ast.Constant(abs(delta)))


def _inside_functions(tree: ast.Module, keep: frozenset[str]) -> list[ast.AST]:
    """Nodes inside function bodies (module-level imports and constants are left alone), skipping
    docstrings, annotations and the functions named in `keep`."""
    nodes: list[ast.AST] = []
    skip: set[int] = set()
    for top in tree.body:
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and top.name in keep:
            skip.update(id(n) for n in ast.walk(top))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and id(node) not in skip:
            skip.update(id(n) for a in (node.args.args + node.args.kwonlyargs) if a.annotation for n in ast.walk(a.annotation))
            if node.returns is not None:
                skip.update(id(n) for n in ast.walk(node.returns))
            if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                skip.add(id(node.body[0].value))
            nodes.extend(n for stmt in node.body for n in ast.walk(stmt))
    return [n for n in nodes if id(n) not in skip]


def _tokens(text: str) -> list[tokenize.TokenInfo] | None:
    """The tokens of one line of code (no layout tokens), or None when it does not tokenize alone."""
    try:
        found = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    skip = (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT)
    return [t for t in found if t.type not in skip]


def _key(token: tokenize.TokenInfo) -> str:
    """What a token means: 'x' and "x" are one literal, however unparse quotes it."""
    if token.type == tokenize.STRING:
        try:
            return repr(ast.literal_eval(token.string))
        except (ValueError, SyntaxError):
            pass
    return token.string


def _smallest(old: str, new: str) -> str:
    """`new` (one line), keeping every token it shares with `old` as `old` wrote it (quotes, spacing),
    so that the edit is all that changes; `new` when either does not tokenize."""
    a, b = _tokens(old), _tokens(new)
    if not a or not b:
        return new

    def space(text: str, tokens: list[tokenize.TokenInfo], i: int) -> str:
        return text[tokens[i - 1].end[1]:tokens[i].start[1]] if i else text[:tokens[0].start[1]]

    out: list[str] = []
    edited = False  # whether the token before came from `new`: the space after an edit is `new`'s
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, [_key(t) for t in a], [_key(t) for t in b],
                                                      autojunk=False).get_opcodes():
        if op == "equal":
            for k, i in enumerate(range(i1, i2)):
                out.append((space(new, b, j1) if k == 0 and edited else space(old, a, i)) + a[i].string)
        elif op != "delete":
            out += [space(new, b, j) + b[j].string for j in range(j1, j2)]
        edited = op != "equal"
    return "".join(out) + old[a[-1].end[1]:]


def _splice(code: str, target: ast.AST, clone: ast.Module) -> str | None:
    """`code` with only the edited node's own text replaced (formatting and comments elsewhere kept),
    or None when the node spans lines or the result does not parse back to exactly the mutated tree."""
    where = [getattr(target, name, None) for name in ("lineno", "col_offset", "end_lineno", "end_col_offset")]
    if any(w is None for w in where) or where[0] != where[2]:
        return None
    line, col, _, end_col = (int(w) for w in where)  # type: ignore[arg-type]
    lines = code.splitlines(keepends=True)
    raw = lines[line - 1].encode()
    old = raw[col:end_col].decode()
    for new in (_smallest(old, ast.unparse(target)), ast.unparse(target)):
        lines[line - 1] = (raw[:col] + new.encode() + raw[end_col:]).decode()
        text = "".join(lines)
        try:
            if ast.dump(ast.parse(text)) == ast.dump(clone):
                return text
        except SyntaxError:
            continue
    return None


def mutants(code: str, *, limit: int = 60, focus_lines: frozenset[int] = frozenset(),
            keep: frozenset[str] = frozenset(), in_place: bool = False) -> list[Mutant]:
    """Up to `limit` distinct single-edit variants of `code`: edits on `focus_lines` first, then by
    kind. Functions named in `keep` (helpers the task gave) are not edited. `in_place` (a user's
    file): only `focus_lines` are edited, and a variant is `code` with just the edited node's text
    replaced, so that its diff is that one edit."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    if limit < 1:
        return []
    original = code if in_place else ast.unparse(tree)
    nodes = _inside_functions(tree, keep)
    if in_place:
        nodes = [n for n in nodes if getattr(n, "lineno", 0) in focus_lines]
    index = {id(n): i for i, n in enumerate(ast.walk(tree))}
    order = KINDS_IN_PLACE if in_place else KINDS
    planned = [(getattr(n, "lineno", 0) not in focus_lines, order.index(kind), index[id(n)], j, kind, edit)
               for n in nodes for j, (kind, edit) in enumerate(_edits(n))]
    planned.sort(key=lambda p: p[:4])
    found: list[Mutant] = []
    texts = {original}
    for _, _, position, _, kind, edit in planned:
        clone = copy.deepcopy(tree)
        target = next(n for i, n in enumerate(ast.walk(clone)) if i == position)
        description = edit(target)
        try:
            text = ast.unparse(ast.fix_missing_locations(clone))
            compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError):
            continue
        if in_place:
            spliced = _splice(code, target, clone)
            if spliced is None:
                continue
            text = spliced
        if text in texts:
            continue
        texts.add(text)
        found.append(Mutant(kind, getattr(target, "lineno", 0), f"line {getattr(target, 'lineno', 0)}: {description}",
                            text if in_place else text + "\n"))
        if len(found) == limit:
            break
    return found
