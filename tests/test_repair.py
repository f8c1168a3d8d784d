"""Local repair: single-edit mutants of a close candidate, checked by running them."""

from __future__ import annotations

from greenloop.loop.repair import mutants


def _fixes(code: str, correct: str, **kwargs) -> list[str]:
    """Descriptions of the mutants that behave like `correct` on a range of inputs."""
    want: dict[str, object] = {}
    exec(correct, want)
    found = []
    for m in mutants(code, **kwargs):
        space: dict[str, object] = {}
        exec(m.code, space)
        try:
            if all(space["f"](*args) == want["f"](*args) for args in CASES):  # type: ignore[operator]
                found.append(m.description)
        except Exception:
            continue
    return found


CASES = [(n, k) for n in range(-3, 9) for k in range(0, 4)]


def test_finds_an_off_by_one_range_bound() -> None:
    code = "def f(n, k):\n    return [i * k for i in range(1, n)]\n"
    assert _fixes(code, "def f(n, k):\n    return [i * k for i in range(1, n + 1)]\n") == [
        "line 2: range bound -> `range(1, n + 1)`"]


def test_finds_a_wrong_comparison() -> None:
    code = "def f(n, k):\n    if n < k:\n        return 'small'\n    return 'big'\n"
    assert "line 2: comparison -> `n <= k`" in _fixes(
        code, "def f(n, k):\n    if n <= k:\n        return 'small'\n    return 'big'\n")


def test_finds_an_index_off_by_one_and_swapped_operands() -> None:
    index = "def f(n, k):\n    xs = list(range(10))\n    return xs[n + 1]\n"
    assert "line 3: index -> `xs[n]`" in _fixes(index, "def f(n, k):\n    xs = list(range(10))\n    return xs[n]\n")
    swap = "def f(n, k):\n    return k - n\n"
    assert "line 2: swapped operands -> `n - k`" in _fixes(swap, "def f(n, k):\n    return n - k\n")


def test_edits_on_failing_lines_come_first_and_kept_helpers_are_not_touched() -> None:
    code = "def helper(n):\n    return n + 1\n\n\ndef f(n, k):\n    if n < k:\n        return helper(n)\n    return k * 2\n"
    assert mutants(code)[0].line != 8
    assert mutants(code, focus_lines=frozenset({8}))[0].line == 8
    assert all(m.line != 2 for m in mutants(code, limit=500, keep=frozenset({"helper"})))
    assert any(m.line == 2 for m in mutants(code, limit=500))


def test_every_mutant_compiles_differs_and_respects_the_limit() -> None:
    code = "def f(xs, n):\n    '''Doc 1.'''\n    total = 0\n    for i in range(len(xs)):\n        if xs[i] >= n and i % 2 == 0:\n            total += xs[i - 1]\n    return max(total, n)\n"
    found = mutants(code, limit=500)
    texts = [m.code for m in found]
    assert len(texts) == len(set(texts)) > 20
    for text in texts:
        compile(text, "m", "exec")
        assert "Doc 1." in text  # docstrings are not mutated
    assert len(mutants(code, limit=7)) == 7
    assert mutants("def f(:\n", limit=5) == []


def test_adds_an_ordering_key_and_drops_a_reversal() -> None:
    longest = "def f(words):\n    return max(words, default=None)\n"
    assert any("key=len" in m.code and m.kind == "key" for m in mutants(longest))
    reverse = "def f(text):\n    return text[::-1]\n"
    assert any(m.code == "def f(text):\n    return text[:]\n" for m in mutants(reverse))


def test_reshapes_a_returned_value() -> None:
    generator = "def f(xs):\n    return (x * 2 for x in xs)\n"
    assert any(m.kind == "shape" and m.code == "def f(xs):\n    return list((x * 2 for x in xs))\n"
               for m in mutants(generator, limit=100))
