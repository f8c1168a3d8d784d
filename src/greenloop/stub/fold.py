"""Constant-folding of simple test expressions, without running any of the test file's code.

A test writes `s = "x" * 12 + "y"` and then `encode(s)`; the stub must show `encode('xxxxxxxxxxxxy')`.
This interprets a small, closed subset of Python over literal values only: literals, arithmetic,
comparisons, indexing, comprehensions, a few pure builtins and str/bytes methods. Anything else is
`Unfoldable`. Nothing is ever passed to `eval`, and sizes are bounded so `"x" * 10**9` is refused
rather than computed.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_MAX_SIZE = 10_000  # elements or characters a folded value may have
_MAX_POWER = 256
_MAX_STEPS = 100_000  # nodes evaluated per fold: comprehensions that filter everything out still stop


class Unfoldable(Exception):
    """The expression is outside the folded subset (or would grow too large)."""


class Ref:
    """A name the tests import from the target, as a value (`parametrize("func", [mean, median])`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return self.name


_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_, ast.Invert: operator.invert,
}
# Pure builtins over plain values; `range` and friends are materialised so results stay literals.
_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": len, "abs": abs, "min": min, "max": max, "sum": sum, "round": round, "sorted": sorted,
    "str": str, "int": int, "float": float, "bool": bool, "chr": chr, "ord": ord, "repr": repr,
    "list": list, "tuple": tuple, "set": set, "frozenset": frozenset, "dict": dict,
    "range": lambda *a: list(_bounded(range(*a))), "reversed": lambda x: list(reversed(x)),
    "zip": lambda *a: list(zip(*a, strict=False)), "enumerate": lambda *a: list(enumerate(*a)),
    "all": all, "any": any, "divmod": divmod, "hex": hex, "bin": bin, "oct": oct,
}
_METHODS = {
    "join", "upper", "lower", "strip", "lstrip", "rstrip", "split", "rsplit", "replace", "title",
    "capitalize", "splitlines", "center", "ljust", "rjust", "zfill", "encode", "decode", "casefold",
    "startswith", "endswith", "count", "find", "index", "format", "swapcase", "keys", "values", "items",
    "copy", "get",
}
_PLAIN_TYPES = (str, bytes, int, float, complex, bool, type(None), dict, list, tuple, set, frozenset, slice, Ref)


def _bounded(items: range) -> range:
    if len(items) > _MAX_SIZE:
        raise Unfoldable("range too large")
    return items


def _guard_call(name: str, owner: Any, args: list[Any]) -> None:
    """Refuse calls whose result would be far larger than their inputs (`'a'.ljust(10**9)`)."""
    widths = [a for a in args if isinstance(a, int)]
    if name == "format" and isinstance(owner, str):
        widths += [int(n) for n in re.findall(r"\d+", owner)]
    if name in ("ljust", "rjust", "center", "zfill", "format") and any(w > _MAX_SIZE for w in widths):
        raise Unfoldable("width too large")
    if name == "replace" and len(args) >= 2 and _size(owner) * max(1, _size(args[1])) > _MAX_SIZE:
        raise Unfoldable("replacement too large")
    if name == "join" and args and sum(_size(x) for x in args[0]) + _size(owner) * _size(args[0]) > _MAX_SIZE:
        raise Unfoldable("join too large")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | set | frozenset | dict) else 1


def _checked(value: Any) -> Any:
    if _size(value) > _MAX_SIZE or (isinstance(value, int) and value.bit_length() > 4 * _MAX_SIZE):
        raise Unfoldable("value too large")
    if isinstance(value, _PLAIN_TYPES):
        return value
    raise Unfoldable(f"not a plain value: {type(value).__name__}")


def _safe_binop(op: ast.operator, left: Any, right: Any) -> Any:
    if isinstance(op, ast.Mult):
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str | bytes | list | tuple) and isinstance(n, int) and _size(seq) * n > _MAX_SIZE:
                raise Unfoldable("repetition too large")
    if isinstance(op, ast.Mod) and isinstance(left, str):
        _guard_call("format", left, [])  # "%999999999d" % 1
    if isinstance(op, ast.Pow) and isinstance(right, int | float) and abs(right) > _MAX_POWER:
        raise Unfoldable("power too large")
    if isinstance(op, ast.LShift) and isinstance(right, int) and right > _MAX_POWER:
        raise Unfoldable("shift too large")
    return _BINOPS[type(op)](left, right)


class Folder:
    """Evaluates expressions over `env` (names already folded to plain values)."""

    def __init__(self, env: Mapping[str, Any]) -> None:
        self.env = env
        self.steps = 0

    def fold(self, node: ast.expr) -> Any:
        try:
            return _checked(self._eval(node, dict(self.env)))
        except Unfoldable:
            raise
        except (ArithmeticError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                RecursionError, MemoryError) as exc:
            raise Unfoldable(f"{type(exc).__name__} while folding") from None

    def _eval(self, node: ast.expr, env: dict[str, Any]) -> Any:
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise Unfoldable("too much to fold")
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            if node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
            raise Unfoldable(f"unknown name {node.id}")
        if isinstance(node, ast.JoinedStr):
            return "".join(self._eval(v, env) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            value = self._eval(node.value, env)
            spec = self._eval(node.format_spec, env) if node.format_spec else ""
            _guard_call("format", None, [int(n) for n in re.findall(r"\d+", spec)])
            convert: dict[int, Callable[[Any], Any]] = {-1: lambda v: v, 115: str, 114: repr, 97: ascii}
            return format(_checked(convert[node.conversion](value)), spec)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items: list[Any] = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    items.extend(self._eval(elt.value, env))
                else:
                    items.append(self._eval(elt, env))
            kind: Callable[[Iterable[Any]], Any] = {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)]
            return _checked(kind(items))
        if isinstance(node, ast.Dict):
            out: dict[Any, Any] = {}
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    out.update(self._eval(value, env))
                else:
                    out[self._eval(key, env)] = self._eval(value, env)
            return out
        if isinstance(node, ast.BinOp):
            return _checked(_safe_binop(node.op, self._eval(node.left, env), self._eval(node.right, env)))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, env))
        if isinstance(node, ast.BoolOp):
            value = None
            for operand in node.values:
                value = self._eval(operand, env)
                if isinstance(node.op, ast.And) and not value or isinstance(node.op, ast.Or) and value:
                    return value
            return value
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self._eval(comparator, env)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self._eval(node.body if self._eval(node.test, env) else node.orelse, env)
        if isinstance(node, ast.Subscript):
            return _checked(self._eval(node.value, env)[self._eval(node.slice, env)])
        if isinstance(node, ast.Slice):
            parts = (node.lower, node.upper, node.step)
            return slice(*(self._eval(p, env) if p is not None else None for p in parts))
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            return self._comprehension(node, env)
        if isinstance(node, ast.Call):
            return self._call(node, env)
        raise Unfoldable(f"{type(node).__name__} is not folded")

    def _call(self, node: ast.Call, env: dict[str, Any]) -> Any:
        args: list[Any] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                args.extend(self._eval(arg.value, env))
            else:
                args.append(self._eval(arg, env))
        if any(k.arg is None for k in node.keywords):
            raise Unfoldable("** arguments")
        kwargs = {k.arg: self._eval(k.value, env) for k in node.keywords if k.arg}
        func = node.func
        if isinstance(func, ast.Name) and func.id in _BUILTINS and func.id not in env:
            if func.id == "sum" and (len(args) > 1 or kwargs):
                raise Unfoldable("sum with a start value")  # sum(lists, []) is quadratic
            return _checked(_BUILTINS[func.id](*args, **kwargs))
        if isinstance(func, ast.Attribute) and func.attr in _METHODS:
            owner = self._eval(func.value, env)
            if isinstance(owner, str | bytes | dict):
                _guard_call(func.attr, owner, args)
                result = getattr(owner, func.attr)(*args, **kwargs)
                return _checked(list(result) if func.attr in ("keys", "values", "items") else result)
        raise Unfoldable(f"call to {ast.unparse(func)}")

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                       env: dict[str, Any]) -> Any:
        results: list[Any] = []

        def walk(i: int, scope: dict[str, Any]) -> None:
            if i == len(node.generators):
                if isinstance(node, ast.DictComp):
                    results.append((self._eval(node.key, scope), self._eval(node.value, scope)))
                else:
                    results.append(self._eval(node.elt, scope))
                if len(results) > _MAX_SIZE:
                    raise Unfoldable("comprehension too large")
                return
            gen = node.generators[i]
            for item in self._eval(gen.iter, scope):
                inner = dict(scope)
                bind(gen.target, item, inner)
                if all(self._eval(cond, inner) for cond in gen.ifs):
                    walk(i + 1, inner)

        walk(0, env)
        if isinstance(node, ast.DictComp):
            return dict(results)
        return set(results) if isinstance(node, ast.SetComp) else results


def bind(target: ast.expr, value: Any, env: dict[str, Any]) -> None:
    """Assign `value` to a name or (nested) tuple of names, as `for a, b in ...` would."""
    if isinstance(target, ast.Name):
        env[target.id] = value
        return
    if isinstance(target, ast.Tuple | ast.List):
        values = list(value)
        if len(values) != len(target.elts) or any(isinstance(e, ast.Starred) for e in target.elts):
            raise Unfoldable("cannot unpack")
        for elt, item in zip(target.elts, values, strict=True):
            bind(elt, item, env)
        return
    raise Unfoldable(f"cannot assign to {ast.unparse(target)}")


def literal_text(value: Any) -> str | None:
    """`repr(value)` when it reads back as the same literal (so it can stand in an example), else None."""
    try:
        text = repr(value)
        if ast.literal_eval(text) == value:
            return text
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return None
