"""Deriving a starting stub from the tests."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from greenloop.execute import Limits, TestSuite, WorkerPool
from greenloop.loop.feedback import render_feedback, unseen_examples
from greenloop.loop.prompts import with_examples
from greenloop.stub import derive_stub, plan_stub
from greenloop.task import Task


def test_stub_has_signature_and_examples_from_asserts() -> None:
    tests = (
        "import pytest\nfrom slugger import slugify\n\n"
        "def test_a():\n    assert slugify('Hello World') == 'hello-world'\n\n"
        "def test_b():\n    with pytest.raises(TypeError):\n        slugify(None)\n"
    )
    stub = derive_stub(tests, "slugger", "Make URL slugs.")
    ast.parse(stub)
    assert "def slugify(text):" in stub
    assert ">>> slugify('Hello World')\n    'hello-world'" in stub
    assert ">>> slugify(None)\n    Traceback (most recent call last):\n    TypeError" in stub
    assert stub.startswith('"""Make URL slugs.')


def test_module_import_style_and_keywords_and_classes() -> None:
    tests = (
        "import shapes\n\n"
        "def test_area():\n    assert shapes.area(2, 3, unit='cm') == 6\n\n"
        "def test_square():\n    assert shapes.Square(2).side == 2\n"
    )
    stub = derive_stub(tests, "shapes")
    ast.parse(stub)
    assert "def area(n1, n2, unit):" in stub  # two ints: named by type and numbered; `unit` always passed
    assert "class Square:" in stub


def test_parameter_names_come_from_test_variables() -> None:
    tests = (
        "import pytest\nfrom m import f\n\n@pytest.mark.parametrize('text, expected', [('a', 'A')])\n"
        "def test_f(text, expected):\n    assert f(text) == expected\n"
    )
    assert "def f(text):" in derive_stub(tests, "m")


# One test per shape of test case, each asserting the exact stub text.

def test_parametrize_cases_are_expanded_with_param_ids_and_raises_match() -> None:
    tests = '''import pytest
from roman import to_roman


@pytest.mark.parametrize("number, expected", [
    (1, "I"),
    (4, "IV"),
    pytest.param(1994, "MCMXCIV", id="year"),
])
def test_to_roman(number, expected):
    assert to_roman(number) == expected


@pytest.mark.parametrize("bad", [0, -3], ids=["zero", "negative"])
def test_rejects(bad):
    with pytest.raises(ValueError, match="out of range"):
        to_roman(bad)
'''
    assert derive_stub(tests, "roman") == '''def to_roman(number):
    """
    >>> to_roman(1)
    'I'
    >>> to_roman(4)
    'IV'
    >>> to_roman(1994)
    'MCMXCIV'
    >>> to_roman(0)
    Traceback (most recent call last):
    ValueError: out of range
    >>> to_roman(-3)
    Traceback (most recent call last):
    ValueError: out of range
    """
    ...
'''


def test_truthiness_asserts_become_true_and_false() -> None:
    tests = ("from brackets import balanced\n\n"
             "def test_balanced():\n    assert balanced('()')\n    assert not balanced('(]')\n")
    assert derive_stub(tests, "brackets") == '''def balanced(text):
    """
    >>> balanced('()')
    True
    >>> balanced('(]')
    False
    """
    ...
'''


def test_approx_shows_its_tolerance() -> None:
    tests = '''import pytest
from geometry import circle_area, distance


def test_area():
    assert circle_area(1.0) == pytest.approx(3.14159)
    assert circle_area(2) == pytest.approx(12.566, abs=1e-3)


def test_distance():
    assert abs(distance((0, 0), (3, 4)) - 5.0) < 1e-9
'''
    assert derive_stub(tests, "geometry") == '''def circle_area(x):
    """
    >>> circle_area(1.0)
    3.14159  # approximately (rel=1e-06)
    >>> circle_area(2)
    12.566  # approximately (abs=0.001)
    """
    ...


def distance(items1, items2):
    """
    >>> distance((0, 0), (3, 4))
    5.0  # approximately (abs=1e-09)
    """
    ...
'''


def test_properties_fixtures_excinfo_and_an_unrenderable_case() -> None:
    tests = '''import pytest
from words import tokens


@pytest.fixture
def sentence():
    words = ["the", "cat", "sat"]
    return " ".join(words)


def test_properties(sentence):
    assert "cat" in tokens(sentence)
    assert isinstance(tokens(sentence), list)
    assert len(tokens("")) == 0
    assert len(tokens(sentence)) >= 2


def test_error_message():
    with pytest.raises(TypeError) as excinfo:
        tokens(None)
    assert "str" in str(excinfo.value)


def test_uses_tmp(tmp_path):
    path = tmp_path / "a.txt"
    assert tokens(path.read_text()) == []
'''
    assert derive_stub(tests, "words") == '''# Not shown: test_uses_tmp (uses the fixture tmp_path).
def tokens(sentence):
    """
    >>> 'cat' in tokens('the cat sat')
    True
    >>> isinstance(tokens('the cat sat'), list)
    True
    >>> len(tokens(''))
    0
    >>> len(tokens('the cat sat')) >= 2
    True
    >>> tokens(None)
    Traceback (most recent call last):
    TypeError  # and 'str' in str(error)
    """
    ...
'''


def test_locals_are_folded_to_their_values() -> None:
    tests = ("from codec import encode\n\n"
             "def test_run():\n    s = 'x' * 12 + 'y'\n    assert encode(s) == '12x1y'\n\n"
             "def test_long():\n    s = 'ab' * 60\n    assert encode(s).startswith('1a')\n")
    assert derive_stub(tests, "codec") == '''def encode(s):
    """
    >>> encode('xxxxxxxxxxxxy')
    '12x1y'
    >>> encode('ab' * 60).startswith('1a')
    True
    """
    ...
'''


def test_class_based_tests_aliases_and_names_by_type() -> None:
    tests = '''import pytest
from semver import compare as cmp


@pytest.mark.parametrize("mode", ["strict"])
class TestCompare:
    def test_equal(self, mode):
        assert cmp("1.2.3", "1.2.3") == 0

    @pytest.mark.parametrize("older, newer", [("1.0.0", "1.0.1"), ("0.9.9", "1.0.0")])
    def test_order(self, older, newer, mode):
        assert cmp(older, newer) < 0
'''
    assert derive_stub(tests, "semver") == '''def compare(older, newer):
    """
    >>> compare('1.2.3', '1.2.3')
    0
    >>> compare('1.0.0', '1.0.1') < 0
    True
    >>> compare('0.9.9', '1.0.0') < 0
    True
    """
    ...
'''
    only_literals = "from semver import compare\n\ndef test_eq():\n    assert compare('1.2.3', '1.2.3') == 0\n"
    assert derive_stub(only_literals, "semver").startswith("def compare(text1, text2):")


def test_keyword_arguments_name_positions() -> None:
    tests = ("from text import wrap\n\n"
             "def test_a():\n    assert wrap('a b', 1) == ['a', 'b']\n\n"
             "def test_b():\n    assert wrap('a b', width=3) == ['a b']\n")
    assert derive_stub(tests, "text").startswith("def wrap(text, width):\n")


def test_stateful_tests_become_a_session_and_loops_expand() -> None:
    tests = '''from stack import Stack


def test_push_pop():
    s = Stack()
    s.push(1)
    s.push(2)
    assert s.pop() == 2
    assert len(s) == 1


def test_loop():
    for text, want in [("a", 1), ("bb", 2)]:
        assert Stack.count(text) == want
'''
    assert derive_stub(tests, "stack") == '''class Stack:
    """
    >>> s = Stack()
    >>> s.push(1)
    >>> s.push(2)
    >>> s.pop()
    2
    >>> len(s)
    1
    >>> Stack.count('a')
    1
    >>> Stack.count('bb')
    2
    """
'''


def test_nothing_in_the_tests_is_executed_and_huge_values_are_not_built(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    tests = (f"import os\nfrom codec import encode\n\n"
             f"def test_a():\n    value = os.system('touch {marker}')\n    assert encode(value) == '1x'\n\n"
             "def test_b():\n    big = 'x' * 10**9\n    assert encode(big) == '?'\n")
    stub = derive_stub(tests, "codec")
    assert not marker.exists()
    assert "# Not shown: test_a (it uses `os`)." in stub
    assert "# Not shown: test_b (`big` is not a plain value)." in stub


def test_many_cases_keep_diverse_examples_within_budget_and_the_rest_go_to_feedback() -> None:
    rows = ", ".join(f"({n}, {n * n})" for n in range(2, 60))
    tests = (f"import pytest\nfrom sq import square\n\n@pytest.mark.parametrize('n, want', [{rows}])\n"
             "def test_square(n, want):\n    assert square(n) == want\n\n"
             "def test_zero():\n    assert square(0) == 0\n\n"
             "def test_type():\n    with pytest.raises(TypeError):\n        square('a')\n")
    plan = plan_stub(tests, "sq", budget=300)
    shown = [line for line in plan.text.splitlines() if ">>>" in line]
    assert len(shown) < 60 and sum(len(c) for c in plan.shown) <= 300
    assert "    >>> square(0)" in shown and "    >>> square('a')" in shown  # empty input and the error
    assert "    >>> square(2)" in shown and "    >>> square(59)" in shown  # the boundaries
    assert "more test cases not shown here for brevity" in plan.text
    hidden = plan.examples_not_in(plan.text)
    assert hidden["test_square[30-900]"] == ">>> square(30)\n900"
    assert "test_square[2-4]" not in hidden and len(hidden) + len(shown) == 60


def test_case_ids_are_the_ids_pytest_collects(tmp_path: Path) -> None:
    tests = '''import pytest
from m import f


@pytest.fixture
def base():
    return 10


@pytest.mark.parametrize("a", [1, "x y", None, 2.5, (1, 2), "", "x y"])
@pytest.mark.parametrize("b", [True, pytest.param(3, id="three")])
def test_f(a, b, base):
    assert f(a, b) == base


@pytest.mark.parametrize("n", [1, 1], ids=["one", None])
class TestC:
    def test_g(self, n):
        assert f(n) == 1
'''
    (tmp_path / "test_ids.py").write_text(tests)
    (tmp_path / "m.py").write_text("def f(*a):\n    return 1\n")
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                "test_ids.py"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    pytest_ids = [line.split("::", 1)[1] for line in collected.splitlines() if line.startswith("test_ids.py::")]
    assert len(pytest_ids) == 16
    assert [c.test_id for c in plan_stub(tests, "m").cases] == pytest_ids


def test_quotes_and_backslashes_in_examples_read_back_exactly() -> None:
    header = "from csvline import split\n\n"
    bodies = [
        "def test_quotes():\n    assert split('\"say \"\"hi\"\"\",x') == ['say \"hi\"', 'x']\n",
        "def test_escapes():\n    assert split('a\\\\tb\\n') == ['a\\\\tb']\n",
        "def test_both():\n    assert split(\"'''\") == ['\"\"\"']\n",
    ]
    for source in [header + body for body in bodies] + [header + "\n".join(bodies)]:
        stub = derive_stub(source, "csvline")
        node = ast.parse(stub).body[0]
        assert isinstance(node, ast.FunctionDef)
        shown = [case.text for case in plan_stub(source, "csvline").cases]
        assert len(shown) == source.count("assert ")
        assert ast.get_docstring(node) == "\n".join(shown), stub


def test_cases_left_out_of_the_stub_are_shown_in_the_feedback_when_they_fail(tmp_path: Path) -> None:
    rows = ", ".join(f"({n}, {n * n})" for n in range(60))
    negatives = ", ".join(str(-n) for n in range(1, 40))
    tests = (f"import pytest\nfrom sq import square\n\n@pytest.mark.parametrize('n, want', [{rows}])\n"
             "def test_square(n, want):\n    assert square(n) == want\n\n"
             f"@pytest.mark.parametrize('n', [{negatives}])\n"
             "def test_negative(n):\n    with pytest.raises(ValueError, match='negative'):\n        square(n)\n")
    (tmp_path / "test_sq.py").write_text(tests)
    task = Task.from_files(tmp_path / "test_sq.py", tmp_path / "sq.py")
    unseen = unseen_examples(task)
    hidden = [test for test in unseen if test.startswith("test_negative")]
    assert hidden and all(unseen[t] not in task.stub for t in hidden)
    with WorkerPool(TestSuite(task.test_source, task.tests_path.name, "sq"), Limits(timeout=10)) as pool:
        outcome = pool.run("def square(n):\n    return n * n\n")
    assert outcome.passed == 60 and outcome.total == 99
    plain, with_examples = render_feedback(outcome), render_feedback(outcome, unseen)
    assert "the test's example" not in plain
    first = with_examples.splitlines()[0]
    assert first.startswith("- test_negative[") and first.split("[")[1].split("]")[0] in {t[14:-1] for t in hidden}
    case = first.split(":")[0][2:]
    assert f"  the test's example:\n    {unseen[case].replace(chr(10), chr(10) + '    ')}" in with_examples
    assert "ValueError: negative" in with_examples


def test_example_pairs_feed_later_prompts_with_their_indentation() -> None:
    tests = ("import pytest\nfrom roman import to_roman\n\n"
             "@pytest.mark.parametrize('n, want', [(1, 'I'), (4, 'IV')])\n"
             "def test_ok(n, want):\n    assert to_roman(n) == want\n\n"
             "def test_zero():\n    with pytest.raises(ValueError, match='positive'):\n        to_roman(0)\n")
    pairs = plan_stub(tests, "roman").example_pairs()
    assert pairs == {"test_ok[1-I]": ("to_roman(1)", "'I'"), "test_ok[4-IV]": ("to_roman(4)", "'IV'"),
                     "test_zero": ("to_roman(0)", "Traceback (most recent call last):\nValueError: positive")}
    stub = "def to_roman(n):\n    \"\"\"Roman numerals.\n    \"\"\"\n"
    shown = with_examples(stub, [pairs["test_zero"], pairs["test_ok[4-IV]"]])
    assert shown == ("def to_roman(n):\n    \"\"\"Roman numerals.\n    >>> to_roman(0)\n"
                     "    Traceback (most recent call last):\n    ValueError: positive\n"
                     "    >>> to_roman(4)\n    'IV'\n    \"\"\"\n")


def test_folding_refuses_what_would_grow_huge_or_run_long() -> None:
    builds = ["list(range(10**12))", "[y for y in range(5000) for z in range(5000) if False]", "'a'.ljust(10**9)",
              "'{:>999999999}'.format(1)", "'%999999999d' % 1", "f'{1:>999999999}'", "('ab' * 5000).replace('', 'ab' * 5000)",
              "sum([[1] * 100] * 100, [])", "2 ** 10 ** 6", "'x' * 10**9", "[0] * 10**9"]
    tests = "from m import f\n\n" + "\n".join(
        f"def test_{i}():\n    x = {build}\n    assert f(x) == 1\n" for i, build in enumerate(builds))
    plan = plan_stub(tests, "m")
    assert [c.reason for c in plan.cases] == ["`x` is not a plain value"] * len(builds)
    assert plan.text.startswith("\n".join(f"# Not shown: test_{i} (`x` is not a plain value)." for i in range(7))
                                + "\n# ... and 4 more cases not shown (see the tests).\ndef f(x):\n    ...")


def test_every_humaneval_test_file_derives_a_stub_that_parses() -> None:
    from greenloop.benchmarks.humaneval import MODULE, load_problems

    shown = total = 0
    for problem in load_problems():
        for source in (problem.full_tests(), problem.visible_tests()):
            plan = plan_stub(source, MODULE)
            ast.parse(plan.text)
            ids = {c.test_id for c in plan.cases}
            total += len(ids)
            shown += len({c.test_id for c in plan.cases if c.text in plan.shown})
    assert total > 1000 and shown / total > 0.95


def test_exception_classes_and_constants_are_defined_as_such() -> None:
    tests = ("import pytest\nfrom bank import Account, InsufficientFunds, LIMIT, DEFAULTS\n\n"
             "def test_overdraw():\n    with pytest.raises(InsufficientFunds):\n        Account(0).withdraw(1)\n\n"
             "def test_limit():\n    assert LIMIT == 100\n")
    assert derive_stub(tests, "bank") == '''class Account:
    """
    >>> Account(0).withdraw(1)
    Traceback (most recent call last):
    InsufficientFunds
    """


class InsufficientFunds(Exception):
    pass


LIMIT = 100


DEFAULTS = None
'''


def test_an_argument_computed_by_another_target_is_named_by_what_that_returns() -> None:
    tests = ("from caesar import decrypt, encrypt\n\n"
             "def test_shift():\n    assert encrypt('abc', 3) == 'def'\n\n"
             "def test_roundtrip():\n    assert decrypt(encrypt('hi', 5), 5) == 'hi'\n")
    assert derive_stub(tests, "caesar").startswith("def decrypt(text, n):\n")


def test_a_fixture_that_builds_a_target_object_starts_the_session() -> None:
    tests = '''import pytest
from stack import Stack


@pytest.fixture
def stack():
    return Stack()


def test_empty(stack):
    assert len(stack) == 0


def test_push(stack):
    stack.push(1)
    assert stack.pop() == 1
'''
    assert derive_stub(tests, "stack") == '''class Stack:
    """
    >>> len(Stack())
    0
    >>> stack = Stack()
    >>> stack.push(1)
    >>> stack.pop()
    1
    """
'''


def test_thousands_of_cases_keep_extremes_and_errors_and_loops_stop() -> None:
    rows = ", ".join(f"({n}, {n * 2})" for n in range(3000))
    tests = (f"import pytest\nfrom m import f\n\n@pytest.mark.parametrize('n, want', [{rows}])\n"
             "def test_f(n, want):\n    assert f(n) == want\n\n"
             "def test_grid():\n    for a in range(100):\n        for b in range(100):\n            assert f(a, b) == a * b\n\n"
             "def test_bad():\n    with pytest.raises(TypeError):\n        f('x')\n")
    plan = plan_stub(tests, "m")
    assert len(plan.cases) == 3000 + 101 + 1
    assert "# Not shown: test_grid (its loop goes on past 100 examples)." in plan.text
    for example in (">>> f(0)\n    0", ">>> f(2999)\n    5998", ">>> f('x')\n    Traceback", ">>> f(0, 0)\n    0"):
        assert example in plan.text
    assert sum(len(text) + 5 for text in plan.shown) <= 1600
