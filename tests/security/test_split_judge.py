"""The split judge: the tests run in a process that never runs the candidate's code.

What honest code needs (plain values, exceptions, objects, generators, in-place changes) must
still work through the proxy; what the judge decides must not depend on anything the candidate
process says beyond plain values; and the candidate process must not hold the tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greenloop.execute import Limits, TestStatus, TestSuite, WorkerPool

TESTS = '''\
import pytest
from lib import CONST, ParseError, Stack, add, count_up, frac, make_seven, make_thing, parse, sort_in_place


def test_plain_returns():
    assert add(2, 3) == 5
    assert add([1], [2]) == [1, 2]
    assert isinstance(add((1,), (2,)), tuple)
    assert add(b"a", b"b") == b"ab" and add("a", "b") == "ab" and add(1.5, 1j) == 1.5 + 1j


def test_builtin_exception():
    with pytest.raises(ValueError, match="bad input"):
        parse("bad")


def test_candidate_exception():
    with pytest.raises(ParseError) as info:
        parse("")
    assert isinstance(info.value, ValueError)
    assert info.value.position == 0 and str(info.value) == "empty at 0"


def test_class_with_methods_and_state():
    stack = Stack()
    stack.push(1)
    stack.push(2)
    assert len(stack) == 2 and stack.pop() == 2 and stack.peek() == 1 and stack.size == 1
    assert isinstance(stack, Stack) and not isinstance(5, Stack)
    stack.label = "mine"
    assert stack.describe() == "mine:1"


def test_context_manager_and_iteration():
    with Stack([3, 4]) as stack:
        assert list(stack) == [3, 4] and 4 in stack


def test_generator():
    assert list(count_up(3)) == [0, 1, 2]
    numbers = count_up(2)
    assert next(numbers) == 0 and next(numbers) == 1
    with pytest.raises(StopIteration):
        next(numbers)


def test_in_place_mutation_is_copied_back():
    items = [3, 1, 2]
    table = {"b": 1}
    assert sort_in_place(items, table) is None
    assert items == [1, 2, 3] and table == {"b": 1, "sorted": True}


def test_int_subclass_compares_as_int():
    seven = make_seven()
    assert seven == 7 and seven != 8 and type(seven) == int


def test_handles_compare_only_with_handles():
    thing = make_thing()
    assert thing != "anything" and not (thing == 1) and thing == make_thing()


def test_approx_and_constants():
    assert frac(1, 3) == pytest.approx(0.3333333)
    assert CONST == {"a": [1, 2]}
'''

CANDIDATE = '''\
CONST = {"a": [1, 2]}


class ParseError(ValueError):
    def __init__(self, message, position):
        super().__init__(message)
        self.position = position

    def __str__(self):
        return f"{self.args[0]} at {self.position}"


def parse(text):
    if not text:
        raise ParseError("empty", 0)
    raise ValueError("bad input: " + text)


def add(a, b):
    return a + b


class Stack:
    def __init__(self, items=()):
        self.items = list(items)
        self.label = ""

    def push(self, item):
        self.items.append(item)

    def pop(self):
        return self.items.pop()

    def peek(self):
        return self.items[-1]

    @property
    def size(self):
        return len(self.items)

    def describe(self):
        return f"{self.label}:{self.size}"

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __contains__(self, item):
        return item in self.items

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def count_up(n):
    yield from range(n)


def sort_in_place(items, table):
    items.sort()
    table["sorted"] = True


class Seven(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


def make_seven():
    return Seven(7)


class Thing:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


def make_thing():
    return Thing()


def frac(a, b):
    return a / b
'''


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(TestSuite(TESTS, "test_lib.py", "lib"), Limits(timeout=5)) as p:
        yield p


def test_honest_code_is_green_through_the_proxy(pool: WorkerPool) -> None:
    outcome = pool.run(CANDIDATE)
    assert pool.judge == "split" and outcome.judge == "split" and outcome.judge_reason == ""
    assert outcome.green, [(t.test_id, t.message) for t in outcome.tests if t.status is not TestStatus.PASSED]
    assert outcome.to_dict()["judge"] == "split"


@pytest.mark.parametrize("change, failing", [
    ("return a + b", "return a - b"),
    ("raise ValueError(\"bad input: \" + text)", "raise TypeError(\"bad input\")"),
    ("return Seven(7)", "return Seven(8)"),
    ("items.sort()", "items.reverse()"),
    ("yield from range(n)", "yield from range(1, n + 1)"),
    ("def __eq__(self, other):\n        return True\n\n    __hash__ = object.__hash__", "__hash__ = object.__hash__"),
])
def test_wrong_code_fails_the_test_it_breaks(pool: WorkerPool, change: str, failing: str) -> None:
    assert change in CANDIDATE
    outcome = pool.run(CANDIDATE.replace(change, failing))
    assert not outcome.green
    assert 0 < outcome.passed < outcome.total


def test_always_equal_handle_never_equals_plain_data(pool: WorkerPool) -> None:
    code = CANDIDATE.replace("return a + b", "return Thing()")
    outcome = pool.run(code)
    plain = next(t for t in outcome.tests if t.test_id.endswith("test_plain_returns"))
    assert plain.status is TestStatus.FAILED and "Thing" not in plain.expected


def test_failure_feedback_shows_the_candidates_frames(pool: WorkerPool) -> None:
    outcome = pool.run(CANDIDATE.replace("    return a + b", "    total = a\n    return total + b + undefined"))
    plain = next(t for t in outcome.tests if t.test_id.endswith("test_plain_returns"))
    assert plain.status is TestStatus.ERROR and "NameError" in plain.message
    assert 'File "lib.py"' in plain.traceback and plain.locals.get("total") == "2"


def test_tests_that_patch_the_target_fall_back_to_shared_and_say_so() -> None:
    tests = ("import lib\n\ndef test_patched(monkeypatch):\n    monkeypatch.setattr(lib, 'helper', lambda: 2)\n"
             "    assert lib.twice() == 4\n")
    with WorkerPool(TestSuite(tests, "test_lib.py", "lib")) as p:
        outcome = p.run("def helper():\n    return 1\n\ndef twice():\n    return 2 * helper()\n")
    assert outcome.green and outcome.judge == "shared" and "monkeypatch" in outcome.judge_reason
    assert outcome.to_dict()["judge_reason"] == outcome.judge_reason


SECRET_TESTS = '''\
from probe import attack


def test_answer():
    assert attack() == "ANSWER_KEY_93471"
'''
# Looks for the expected value everywhere it could be: files it can reach, the objects in its own
# interpreter (gc, modules, linecache), its callers' frames, its open descriptors.
SEARCHER = r'''
import gc, itertools, linecache, os, re, sys

FOUND = re.compile(r"ANSWER_KEY_\d+")


def _scan(text):
    match = FOUND.search(text)
    return match.group(0) if match else None


def _files():
    for top in (os.getcwd(), "/tmp", "/var/tmp", "/dev/shm"):
        for dirpath, dirs, names in os.walk(top):
            for name in names:
                try:
                    with open(os.path.join(dirpath, name), "rb") as f:
                        yield f.read(1 << 20).decode("utf-8", "replace")
                except OSError:
                    pass
    for fd in os.listdir("/proc/self/fd"):
        try:
            yield open(f"/proc/self/fd/{fd}", "rb").read(1 << 16).decode("utf-8", "replace")
        except OSError:
            pass


def _objects():
    for obj in gc.get_objects():
        if isinstance(obj, dict):
            yield from (v for v in list(obj.values()) if isinstance(v, str))
        elif isinstance(obj, (list, tuple)):
            yield from (v for v in obj if isinstance(v, str))
        elif hasattr(obj, "__code__"):
            yield from (str(c) for c in obj.__code__.co_consts)
    for lines in list(linecache.cache.values()):
        if len(lines) > 2:
            yield "".join(lines[2])
    frame = sys._getframe()
    while frame is not None:
        yield str(frame.f_code.co_consts) + str(frame.f_locals) + str(frame.f_globals.get("__file__"))
        frame = frame.f_back


def attack():
    for text in itertools.chain(_objects(), _files()):
        found = _scan(text)
        if found:
            return found
    return "not found"
'''


@pytest.mark.parametrize("fast", [True, False])
def test_the_candidate_process_holds_no_copy_of_the_tests(fast: bool) -> None:
    with WorkerPool(TestSuite(SECRET_TESTS, "test_probe.py", "probe"), Limits(timeout=20), fast=fast) as p:
        outcome = p.run(SEARCHER)
        assert outcome.judge == "split"
        assert outcome.tests[0].actual == "'not found'", outcome
        assert p.run("def attack():\n    return 'ANSWER_KEY_93471'\n").green


MORE_TESTS = '''\
from lib2 import Color, Point, apply, count_words, shout


def test_counter_keeps_its_type():
    counts = count_words("a b a")
    assert counts["a"] == 2 and counts["zzz"] == 0


def test_a_callback_of_the_tests():
    assert apply([3, 1, 2], key=lambda x: -x) == [3, 2, 1]


def test_dataclass_handles_compare_through_the_candidate():
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(2, 1)
    assert Point(1, 2).x == 1 and repr(Point(1, 2)) == "Point(x=1, y=2)"


def test_enum_members():
    assert Color("red") == Color.RED and Color.RED.value == "red" and isinstance(Color.RED, Color)


def test_output_is_captured(capsys):
    shout("hi")
    assert capsys.readouterr().out == "HI\\n"
'''
MORE_CODE = '''\
import collections
import dataclasses
import enum


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: int
    y: int


def apply(items, key):
    return sorted(items, key=key)


def count_words(text):
    return collections.Counter(text.split())


def shout(text):
    print(text.upper())
'''


def test_more_honest_code_through_the_proxy() -> None:
    with WorkerPool(TestSuite(MORE_TESTS, "test_lib2.py", "lib2"), Limits(timeout=5)) as p:
        outcome = p.run(MORE_CODE)
        assert outcome.judge == "split"
        assert outcome.green, [(t.test_id, t.message) for t in outcome.tests if t.status is not TestStatus.PASSED]
        assert p.run(MORE_CODE.replace("text.upper()", "text")).passed == 4


def test_tests_that_pass_what_cannot_cross_switch_to_shared_after_a_first_trial() -> None:
    tests = ("import io\nfrom report import write\n\ndef test_write():\n    buffer = io.StringIO()\n"
             "    write(buffer, 'x')\n    assert buffer.getvalue() == 'x\\n'\n")
    code = "def write(stream, text):\n    stream.write(text + '\\n')\n"
    with WorkerPool(TestSuite(tests, "test_report.py", "report"), Limits(timeout=5)) as p:
        assert p.judge == "split"  # nothing in the source says otherwise
        outcome = p.run(code)
        assert outcome.green and outcome.judge == "shared" and "StringIO" in outcome.judge_reason, outcome
        assert p.judge == "shared" and p.run(code).judge == "shared"
        assert not p.run(code.replace("text + ", "text * 2 + ")).green
