"""From test cases to stub text: parameter names, the examples that fit the budget, and notes.

Parameter names come from keyword arguments in calls, else from the test's own names that feed the
call (parametrize arguments, fixtures, locals), else from the values' types (`text`, `n`, `x`,
`items`). When a file has more cases than the budget holds, the most diverse are kept: one per test
function and kind of example first, then empty inputs, errors, extreme arguments and distinct
results, spread over the test functions; the rest are counted in a comment (failing ones are shown in the feedback).
"""

from __future__ import annotations

import ast
import heapq
from collections import Counter
from typing import Any

from greenloop.stub.cases import Case
from greenloop.stub.fold import Unfoldable
from greenloop.stub.substitute import CallSite

_MAX_CANDIDATES = 300
BUDGET_CHARS = 1600  # about 450 tokens of examples: the embedded model's 4k context also holds code and feedback


def kind_name(value: Any) -> str:
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int):
        return "n"
    if isinstance(value, float):
        return "x"
    if isinstance(value, bytes):
        return "data"
    if isinstance(value, list | tuple | set | frozenset):
        return "items"
    if isinstance(value, dict):
        return "mapping"
    return ""


def result_kinds(cases: list[Case]) -> dict[str, str]:
    """The type name of what each function returns in its equality examples (`encrypt` -> `text`)."""
    kinds: dict[str, Counter[str]] = {}
    for case in cases:
        if case.kind == "equal":
            try:
                value = ast.literal_eval(case.text.rsplit("\n", 1)[-1])
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if kind_name(value):
                kinds.setdefault(case.function, Counter())[kind_name(value)] += 1
    return {function: votes.most_common(1)[0][0] for function, votes in kinds.items()}


def parameters(name: str, calls: list[CallSite], returns: dict[str, str] | None = None) -> list[str]:
    sites = [c for c in calls if c.name == name]
    arity = max((c.positional for c in sites), default=0)
    by_keyword: list[Counter[str]] = [Counter() for _ in range(arity)]
    by_source: list[Counter[str]] = [Counter() for _ in range(arity)]
    by_kind: list[Counter[str]] = [Counter() for _ in range(arity)]
    keywords: list[str] = []
    for site in sites:
        for j, word in enumerate(site.keywords):
            if site.positional + j < arity:
                by_keyword[site.positional + j][word] += 1
            if word not in keywords:
                keywords.append(word)
        for i in range(site.positional):
            if site.sources[i]:
                by_source[i][site.sources[i]] += 1
            if site.values[i] is not Unfoldable and kind_name(site.values[i]):
                by_kind[i][kind_name(site.values[i])] += 1
            elif i < len(site.inner) and (returns or {}).get(site.inner[i]):
                by_kind[i][(returns or {})[site.inner[i]]] += 1  # `decrypt(encrypt(...))`: what encrypt returns
    chosen: list[str] = []
    for i in range(arity):
        word = next((w for votes in (by_keyword[i], by_source[i]) for w, _ in votes.most_common()
                     if w not in chosen), "")
        # Type names may repeat (`text1, text2`); the test's own names are taken once each.
        chosen.append(word or next((w for w, _ in by_kind[i].most_common()), "arg"))
    counts = Counter(chosen)
    numbered: Counter[str] = Counter()
    params = []
    for word in chosen:
        if counts[word] > 1:
            numbered[word] += 1
            word = f"{word}{numbered[word]}"
        params.append(word)
    # A keyword every call passes has no default the tests could show.
    always = {k for k in keywords if all(k in site.keywords for site in sites)}
    return params + [k if k in always else f"{k}=None" for k in keywords if k not in params]


def _features(case: Case, extremes: dict[str, tuple[Any, Any]]) -> set[tuple[str, ...]]:
    base = case.test_id.split("[", 1)[0]
    found = {("test", base), ("kind", case.function, case.kind)}
    last = case.text.splitlines()[-1] if case.text else ""
    if case.kind == "raises":
        found.add(("error", last))
    if any(v in ("", 0, None) or (isinstance(v, list | tuple | dict | set) and not v) for v in case.args):
        found.add(("empty", case.function))
    if case.args and case.function in extremes and case.args[0] in extremes[case.function]:
        found.add(("extreme", case.function, repr(case.args[0])))
    if case.kind in ("equal", "true", "false"):
        found.add(("result", case.function, last))
    return found


def select(cases: list[Case], budget: int = BUDGET_CHARS) -> list[Case]:
    """The rendered cases to show, in file order: all when they fit, else the most diverse that fit."""
    shown = [c for c in cases if c.text]
    unique: dict[str, Case] = {}
    for case in shown:
        unique.setdefault(case.text, case)
    pool = list(unique.values())
    if sum(len(c.text) + 5 for c in pool) <= budget:
        return pool
    extremes: dict[str, tuple[Any, Any]] = {}
    for function in {c.function for c in pool}:
        firsts = [c.args[0] for c in pool if c.function == function and c.args
                  and isinstance(c.args[0], int | float | str) and not isinstance(c.args[0], bool)]
        same = [v for v in firsts if type(v) is type(firsts[0])] if firsts else []
        if same:
            def size(v: Any) -> Any:
                return len(v) if isinstance(v, str) else v
            extremes[function] = (min(same, key=size), max(same, key=size))
    order = {id(c): i for i, c in enumerate(pool)}
    features = {id(c): _features(c, extremes) for c in pool}
    candidates = _thin(pool, features)
    covered: set[tuple[str, ...]] = set()
    picked: list[Case] = []
    used = 0
    per_test: Counter[str] = Counter()  # picks so far per test function: spread them over all of them

    def rank(c: Case) -> tuple[int, int, int, int]:
        return (-len(features[id(c)] - covered), per_test[c.test_id.split("[", 1)[0]], len(c.text), order[id(c)])

    # Lazy greedy: a case's rank only gets worse as others are picked, so a popped case whose fresh
    # rank still beats the next one's stale rank is the best.
    heap = [(rank(c), c) for c in candidates]
    heapq.heapify(heap)
    shortest = min(len(c.text) for c in candidates)
    while heap and used + shortest + 5 <= budget:
        stale, case = heapq.heappop(heap)
        fresh = rank(case)
        if heap and fresh > heap[0][0]:
            heapq.heappush(heap, (fresh, case))
            continue
        if used + len(case.text) + 5 > budget:
            continue
        picked.append(case)
        used += len(case.text) + 5
        covered |= features[id(case)]
        per_test[case.test_id.split("[", 1)[0]] += 1
    return sorted(picked, key=lambda c: order[id(c)])


def _thin(pool: list[Case], features: dict[int, set[tuple[str, ...]]], limit: int = _MAX_CANDIDATES) -> list[Case]:
    """At most about `limit` cases to choose from: per test function, those with a rare feature (an
    error, an empty or extreme argument) and an even spread of the rest. Keeps the choice fast on
    files with thousands of parametrize rows."""
    if len(pool) <= limit:
        return pool
    groups: dict[str, list[Case]] = {}
    for case in pool:
        groups.setdefault(case.test_id.split("[", 1)[0], []).append(case)
    share = max(10, limit // len(groups))
    kept: list[Case] = []
    for group in groups.values():
        rare = [c for c in group if any(f[0] in ("error", "empty", "extreme") for f in features[id(c)])][: share // 2]
        rest = [c for c in group if c not in rare]
        step = max(1, len(rest) // max(1, share - len(rare)))
        kept += rare + rest[::step][: share - len(rare)]
    return kept


def docstring(lines: list[str], indent: str = "    ") -> str:
    """The examples as a docstring that reads back as exactly these lines (quotes and backslashes in
    the examples' literals included), so the stub always parses and doctest sees what the tests say."""
    body = "\n".join(lines)
    quote = next((q for q in ('"""', "'''") if q not in body), None)
    if quote is None:
        quote, body = '"""', body.replace("\\", "\\\\").replace('"', '\\"')
    elif "\\" in body:
        quote = "r" + quote
    body = body.replace("\n", "\n" + indent)
    return f'{indent}{quote}\n{indent}{body}\n{indent}{quote[-3:]}\n'


def notes(cases: list[Case], shown: list[Case]) -> list[str]:
    """Comments for the cases of one name that the stub does not show."""
    texts = {c.text for c in shown}
    out = [f"# Not shown: {c.test_id} ({c.reason})." for c in cases if not c.text]
    hidden = sorted({c.test_id for c in cases if c.text and c.text not in texts})
    if hidden:
        out.append(f"# {len(hidden)} more test case{'s' if len(hidden) > 1 else ''} not shown here for brevity "
                   "(a failing one is shown in the test results).")
    return _short(out)


def _short(lines: list[str], limit: int = 8) -> list[str]:
    if len(lines) <= limit:
        return lines
    return [*lines[: limit - 1], f"# ... and {len(lines) - limit + 1} more cases not shown (see the tests)."]
