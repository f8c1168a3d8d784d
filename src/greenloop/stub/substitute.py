"""Rewriting a test's expression so it stands alone in an example.

Locals become their values (or the short expression that built them), aliases the target's names,
`mod.f` plain `f`; whatever then folds to a short literal is folded (`'z' * 10` -> `'zzzzzzzzzz'`).
Each target call seen on the way is recorded, for choosing parameter names.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenloop.stub.examples import copy_node
from greenloop.stub.fold import Folder, Ref, Unfoldable, literal_text
from greenloop.stub.params import dotted

if TYPE_CHECKING:
    from greenloop.stub.cases import _Walk

MAX_VALUE_TEXT = 100  # a longer folded value is shown by the expression that built it, when shorter
_NOT_A_NAME = frozenset({"expected", "expect", "exp", "want", "wanted", "result", "res", "actual", "out", "output",
                         "answer", "self", "_", "got", "value", "case", "data", "args", "kwargs", "params"})


@dataclass
class CallSite:
    """How a target name is called somewhere in the tests: for choosing parameter names."""

    name: str
    positional: int
    sources: list[str]  # per position: the test's own name feeding it ('' when a literal)
    values: list[Any]  # per position: the folded value (Unfoldable class when unknown)
    keywords: list[str]
    inner: list[str] = field(default_factory=list)  # per position: the target it calls there (`f(g(x))`), or ''



class Substitute(ast.NodeTransformer):
    """Locals -> their values (or short expressions), aliases -> target names, `mod.f` -> `f`;
    records each target call's argument names and values for the signature."""

    def __init__(self, walk: _Walk, symbols: bool, record: bool, keep: frozenset[str]) -> None:
        self.walk, self.use_symbols, self.record, self.keep = walk, symbols, record, keep
        self.bound: set[str] = set()

    def visit_Name(self, node: ast.Name) -> ast.expr:
        w = self.walk
        if not isinstance(node.ctx, ast.Load) or node.id in self.bound:
            return node
        if node.id in w.ctx.targets:
            return ast.Name(w.ctx.targets[node.id], ast.Load())
        if node.id in self.keep:
            return node
        if node.id in w.values and isinstance(w.values[node.id], Ref):
            return ast.Name(w.values[node.id].name, ast.Load())
        if node.id in w.values:
            text = literal_text(w.values[node.id])
            own = ast.unparse(w.exprs[node.id]) if node.id in w.exprs else None
            if text is not None and (len(text) <= MAX_VALUE_TEXT or own is None or len(own) >= len(text)):
                return ast.parse(text, mode="eval").body
            if own is not None:
                return copy_node(w.exprs[node.id])
        if self.use_symbols and node.id in w.symbols:
            return copy_node(w.symbols[node.id])
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        if isinstance(node.value, ast.Name) and node.value.id == self.walk.ctx.module:
            return ast.Name(node.attr, ast.Load())
        self.generic_visit(node)
        return node

    def _comprehension(self, node: ast.AST) -> ast.AST:
        before = set(self.bound)
        for gen in getattr(node, "generators", []):
            self.bound |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        if isinstance(node, ast.Lambda):
            self.bound |= {a.arg for a in node.args.args}
        self.generic_visit(node)
        self.bound = before
        return node

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_Lambda = _comprehension

    def visit_Call(self, node: ast.Call) -> ast.expr:
        w = self.walk
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if (
            isinstance(func, ast.Attribute) and dotted(func.value) == w.ctx.module) else ""
        if self.record and (name in w.ctx.targets or (isinstance(func, ast.Attribute) and name)):
            # The tests' own names for the arguments, but not constants (`LOREM`) or `expected`-like words.
            sources = [a.id if isinstance(a, ast.Name) and a.id not in _NOT_A_NAME and not a.id.isupper() else ""
                       for a in node.args]
            self.generic_visit(node)
            values: list[Any] = []
            for arg in node.args:
                try:
                    values.append(Folder({}).fold(arg))
                except Unfoldable:
                    values.append(Unfoldable)
            real = w.ctx.targets.get(name, name)
            inner = [w.ctx.targets.get(a.func.id, "") if isinstance(a, ast.Call) and isinstance(a.func, ast.Name)
                     else "" for a in node.args]
            w.ctx.out.calls.append(CallSite(real, len(node.args), sources, values,
                                            [k.arg for k in node.keywords if k.arg], inner))
            return node
        self.generic_visit(node)
        return node


class FoldConstants(ast.NodeTransformer):
    """Folds the largest subexpressions free of target names to short literals."""

    def __init__(self, keep: frozenset[str]) -> None:
        self.keep = keep

    def visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.expr) and not isinstance(node, ast.Constant | ast.Name) and not any(
                isinstance(n, ast.Name) and n.id in self.keep for n in ast.walk(node)):
            try:
                text = literal_text(Folder({}).fold(node))
            except Unfoldable:
                text = None
            if text is not None and len(text) <= MAX_VALUE_TEXT:
                return ast.parse(text, mode="eval").body
        return super().visit(node)
