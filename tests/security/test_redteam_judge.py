"""Red team, part 5: a wrong candidate against the split judge's boundary, one attack per test.

The candidate module is the attacker: it returns values that the codec must not rebuild as
anything but their real content, raises exceptions that must not turn into skips or passes,
writes raw frames onto its own socket, calls back into the judge with requests it may not
make, and sends forged encodings of its values (what it can reach beyond that is in
test_redteam_judge_reach.py). Each test runs the attack through the real `WorkerPool`
(real bubblewrap where available) and asserts the safe behaviour: not green, the test the
attack aims at not passed, and the same pool still judging honest code green afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greenloop.execute import Limits, Outcome, TestStatus, TestSuite, WorkerPool

TESTS = '''\
import pytest
from lib import words, counts, total, ratio, pair, raw, is_valid, parse, count_to, Box


def test_words():
    assert words("a b") == ["a", "b"]


def test_counts():
    assert counts("a a b") == {"a": 2, "b": 1}


def test_total():
    assert total([1, 2]) == 3


def test_ratio():
    assert ratio(1, 4) == 0.25


def test_pair():
    assert pair() == (1, 2)


def test_raw():
    assert raw() == b"ab"


def test_valid():
    assert is_valid("ok")
    assert not is_valid("")


def test_parse_error():
    with pytest.raises(ValueError):
        parse("")


def test_count_to():
    assert list(count_to(3)) == [0, 1, 2]


def test_all_small():
    assert all(x < 3 for x in count_to(3))


def test_box():
    assert Box(2).value == 2
'''
HONEST = '''\
def words(text):
    return text.split()


def counts(text):
    out = {}
    for w in text.split():
        out[w] = out.get(w, 0) + 1
    return out


def total(xs):
    return sum(xs)


def ratio(a, b):
    return a / b


def pair():
    return (1, 2)


def raw():
    return b"ab"


def is_valid(text):
    return bool(text)


def parse(text):
    if not text:
        raise ValueError("empty")
    return text


def count_to(n):
    yield from range(n)


class Box:
    def __init__(self, value):
        self.value = value
'''


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(TestSuite(TESTS, "test_lib.py", "lib"), Limits(timeout=3)) as p:
        assert p.judge == "split"
        yield p


def attack(pool: WorkerPool, code: str, *failing: str) -> Outcome:
    """Run HONEST with `code` appended (the attack redefines what it attacks): never green, the
    attacked tests not passed, and honest code still green on the same pool afterwards."""
    outcome = pool.run(HONEST + "\n" + code)
    assert outcome.judge == "split"
    assert not outcome.green, outcome
    status = {t.test_id.split("::")[-1]: t.status for t in outcome.tests}
    for name in failing:
        assert status[name] is not TestStatus.PASSED, (name, outcome)
    assert pool.run(HONEST).green, "the pool must still judge honest code green afterwards"
    return outcome


def test_honest_code_is_green(pool: WorkerPool) -> None:
    assert pool.run(HONEST).green


# -- values the codec rebuilds: a subclass cannot lie about its content -------------------------
def test_str_subclass_lying_in_every_method_crosses_as_its_content() -> None:
    lie = ("class S(str):\n"
           "    def __eq__(self, o): return True\n    def __ne__(self, o): return False\n"
           "    __hash__ = str.__hash__\n"
           "    def __str__(self): return 'hello-world'\n    def __repr__(self): return \"'hello-world'\"\n"
           "    def __iter__(self): return iter('hello-world')\n    def encode(self, *a): return b'hello-world'\n"
           "    def __len__(self): return 11\n    def __getitem__(self, i): return 'hello-world'[i]\n"
           "    def __format__(self, spec): return 'hello-world'\n    def __getnewargs__(self): return ('hello-world',)\n"
           "    def __reduce__(self): return (str, ('hello-world',))\n"
           "def slugify(text):\n    return S('wrong')\n")
    with WorkerPool(TestSuite(SLUG_TESTS, "test_slugger.py", "slugger"), Limits(timeout=3)) as p:
        outcome = p.run(lie)
        assert not outcome.green, outcome
        assert outcome.tests[0].actual == "'wrong'", outcome.tests[0]
        assert p.run(SLUG_HONEST).green


SLUG_TESTS = "from slugger import slugify\n\n\ndef test_basic():\n    assert slugify('Hello World') == 'hello-world'\n"
SLUG_HONEST = "def slugify(text):\n    return '-'.join(text.lower().split())\n"


def test_list_subclass_with_lying_iteration_and_equality(pool: WorkerPool) -> None:
    attack(pool, "class L(list):\n    def __iter__(self): return iter(['a', 'b'])\n"
                 "    def __eq__(self, o): return True\n    def __len__(self): return 2\n"
                 "    def __getitem__(self, i): return ['a', 'b'][i]\n    __hash__ = None\n"
                 "def words(text):\n    return L(['wrong'])\n", "test_words")


def test_dict_subclass_with_lying_items_keys_and_iteration(pool: WorkerPool) -> None:
    attack(pool, "class D(dict):\n    def items(self): return {'a': 2, 'b': 1}.items()\n"
                 "    def keys(self): return {'a': 2, 'b': 1}.keys()\n"
                 "    def __iter__(self): return iter(['a', 'b'])\n    def __eq__(self, o): return True\n"
                 "    def __getitem__(self, k): return {'a': 2, 'b': 1}[k]\n    __hash__ = None\n"
                 "def counts(text):\n    return D(wrong=0)\n", "test_counts")


def test_int_subclass_with_lying_conversions(pool: WorkerPool) -> None:
    attack(pool, "class I(int):\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\n"
                 "    def __int__(self): return 3\n    def __index__(self): return 3\n"
                 "    def __repr__(self): return '3'\n"
                 "def total(xs):\n    return I(-1)\n", "test_total")


def test_float_subclass_with_lying_conversions(pool: WorkerPool) -> None:
    attack(pool, "class F(float):\n    def __eq__(self, o): return True\n    __hash__ = float.__hash__\n"
                 "    def __float__(self): return 0.25\n    def __repr__(self): return '0.25'\n"
                 "def ratio(a, b):\n    return F(9.0)\n", "test_ratio")


def test_nan_and_negative_zero_are_not_the_expected_float(pool: WorkerPool) -> None:
    attack(pool, "def ratio(a, b):\n    return float('nan')\n", "test_ratio")
    attack(pool, "def ratio(a, b):\n    return -0.0\n", "test_ratio")


def test_tuple_subclass_posing_as_a_namedtuple(pool: WorkerPool) -> None:
    attack(pool, "class P(tuple):\n    _fields = ('a', 'b')\n    def __eq__(self, o): return True\n"
                 "    __hash__ = tuple.__hash__\n    def __iter__(self): return iter((1, 2))\n"
                 "def pair():\n    return P((9, 9))\n", "test_pair")


def test_namedtuple_with_dunder_field_names(pool: WorkerPool) -> None:
    # Field names are the candidate's: they must not become methods of the judge-side class.
    attack(pool, "import collections\n"
                 "P = collections.namedtuple('P', ['__eq__', '__hash__'], rename=True)\n"
                 "class Q(P):\n    _fields = ('__eq__', '__hash__')\n"
                 "def pair():\n    return Q(9, 9)\n", "test_pair")


def test_bytes_subclass_and_bytearray_are_not_the_expected_bytes(pool: WorkerPool) -> None:
    attack(pool, "class B(bytes):\n    def __eq__(self, o): return True\n    __hash__ = bytes.__hash__\n"
                 "    def __bytes__(self): return b'ab'\n"
                 "def raw():\n    return B(b'zz')\n", "test_raw")
    attack(pool, "def raw():\n    return 'ab'\n", "test_raw")


def test_object_spoofing_its_class_as_str(pool: WorkerPool) -> None:
    attack(pool, "class Spoof:\n    @property\n    def __class__(self): return list\n"
                 "    def __eq__(self, o): return True\n    __hash__ = object.__hash__\n"
                 "def words(text):\n    return Spoof()\n", "test_words")


def test_metaclass_instancecheck_and_a_class_named_like_a_builtin(pool: WorkerPool) -> None:
    attack(pool, "class Meta(type):\n    def __instancecheck__(cls, obj): return True\n"
                 "    def __eq__(cls, o): return True\n    __hash__ = type.__hash__\n"
                 "class list(metaclass=Meta):\n    def __eq__(self, o): return True\n    __hash__ = object.__hash__\n"
                 "def words(text):\n    return list()\n", "test_words")


def test_huge_int_deep_nesting_and_a_cycle_are_not_green(pool: WorkerPool) -> None:
    attack(pool, "def total(xs):\n    return 10 ** 20000\n", "test_total")
    attack(pool, "def words(text):\n    x = []\n    for _ in range(5000):\n        x = [x]\n    return x\n",
           "test_words")
    attack(pool, "def words(text):\n    x = ['a', 'b']\n    x.append(x)\n    return x\n", "test_words")


def test_truthiness_that_is_not_a_bool_is_an_error(pool: WorkerPool) -> None:
    attack(pool, "class T:\n    def __bool__(self): return 'yes'\n    def __len__(self): return -1\n"
                 "def is_valid(text):\n    return T()\n", "test_valid")


def test_a_generator_that_never_ends_times_out() -> None:
    tests = "from gen import count_to\n\n\ndef test_count():\n    assert list(count_to(3)) == [0, 1, 2]\n"
    with WorkerPool(TestSuite(tests, "test_gen.py", "gen"), Limits(timeout=1.5)) as p:
        outcome = p.run("import itertools\ndef count_to(n):\n    yield from itertools.count()\n")
        assert not outcome.green, outcome
        assert p.run("def count_to(n):\n    return iter(range(n))\n").green


def test_stop_iteration_raised_into_a_generator_expression(pool: WorkerPool) -> None:
    # all(...) over a generator expression: a StopIteration from the candidate must not end it early.
    attack(pool, "class It:\n    def __init__(self): self.n = 0\n    def __iter__(self): return self\n"
                 "    def __next__(self):\n        self.n += 1\n        if self.n > 1:\n"
                 "            raise StopIteration\n        return 99\n"
                 "def count_to(n):\n    return It()\n", "test_all_small", "test_count_to")


# -- exceptions: nothing the candidate raises becomes a skip, a pass or an exit -----------------
@pytest.mark.parametrize("raising", [
    "import pytest\n    pytest.skip('later')",
    "import pytest\n    pytest.xfail('later')",
    "import pytest\n    pytest.fail('x')",
    "import pytest\n    pytest.exit('bye', returncode=0)",
    "import unittest\n    raise unittest.SkipTest('later')",
    "raise SystemExit(0)",
    "raise GeneratorExit()",
    "raise KeyboardInterrupt()",
    "class Skipped(Exception):\n        __module__ = '_pytest.outcomes'\n    raise Skipped('x')",
    "class OutcomeException(BaseException):\n        __module__ = '_pytest.outcomes'\n    raise OutcomeException('x')",
], ids=["skip", "xfail", "fail", "exit", "unittest-skip", "sys-exit", "generator-exit", "keyboard-interrupt",
        "fake-skipped", "fake-outcome"])
def test_exceptions_that_steer_pytest_are_never_a_pass(pool: WorkerPool, raising: str) -> None:
    attack(pool, f"def total(xs):\n    {raising}\n", "test_total")


def test_a_class_named_like_a_builtin_exception_is_not_the_builtin(pool: WorkerPool) -> None:
    # `pytest.raises(ValueError)` must not accept the candidate's own class named ValueError
    # unless it really derives from ValueError.
    attack(pool, "class ValueError(Exception):\n    pass\n"
                 "def parse(text):\n    raise ValueError('empty')\n", "test_parse_error")


def test_an_exception_class_claiming_a_judge_module(pool: WorkerPool) -> None:
    attack(pool, "class CandidateLost(Exception):\n    __module__ = 'greenloop.execute.proxy'\n"
                 "def total(xs):\n    raise CandidateLost('x')\n", "test_total")


# -- the socket: raw frames, forged requests ---------------------------------------------------
RAW = '''
import gc, json, os, socket, struct
def _sock():
    for obj in gc.get_objects():
        if type(obj).__name__ == "Server":
            return obj.peer.sock
def _frame(message):
    body = json.dumps(message).encode()
    return struct.pack("!I", len(body)) + body
'''


def test_unsolicited_replies_written_before_the_judge_asks(pool: WorkerPool) -> None:
    attack(pool, RAW + "_sock().sendall(b''.join(_frame(['r', 3, '', []]) for _ in range(50)))\n"
                       "def total(xs):\n    _sock().sendall(_frame(['r', 3, '', []]) * 5)\n    return -1\n",
           "test_total")


def test_an_oversized_or_malformed_frame_is_not_a_pass(pool: WorkerPool) -> None:
    attack(pool, RAW + "def total(xs):\n    _sock().sendall(struct.pack('!I', 2 ** 31) + b'x' * 100)\n"
                       "    return -1\n", "test_total")
    attack(pool, RAW + "def total(xs):\n    _sock().sendall(struct.pack('!I', 5) + b'{{{{{')\n"
                       "    return -1\n", "test_total")


@pytest.mark.parametrize("request_", [
    ["getattr", ["h", 1], "__class__"],
    ["load", "lib", "x = 1", "/tmp/x.py"],
    ["call", ["f", 1], ["l"], ["d"]],
    ["call", ["j", -1], ["l"], ["d"]],
    ["next", -1],
], ids=["getattr", "load", "call-function", "call-negative", "next-negative"])
def test_requests_from_the_candidate_are_refused(pool: WorkerPool, request_: list[object]) -> None:
    # The judge answers only calls of callables it passed; anything else is an error, never data.
    attack(pool, RAW + "def total(xs):\n"
                       f"    _sock().sendall(_frame(['q', *{request_!r}]))\n"
                       "    return -1\n", "test_total")


def test_closing_the_socket_or_killing_everything(pool: WorkerPool) -> None:
    attack(pool, RAW + "def total(xs):\n    _sock().close()\n    return -1\n", "test_total")
    attack(pool, "import os, signal\ndef total(xs):\n    os.kill(-1, signal.SIGKILL)\n    return -1\n", "test_total")


@pytest.mark.parametrize("forged", [
    "['B', 'print']", "['B', 'int']", "['x', 'eval', '3']", "['n', 'T', ['__eq__'], 3]",
    "['h', 1, ['B', 'int']]", "['j', 0, 'call']", "['e', ['B', 'AssertionError'], ['l'], '', {}, '', {}]",
    "['i', '-0x' + 'f' * 100000]", "['zz', 3]",
], ids=["builtin-function", "builtin-type", "unknown-special", "namedtuple-dunder", "handle-of-builtin",
        "judge-ref", "exception-value", "huge-hex", "unknown-tag"])
def test_forged_encodings_of_a_return_value(pool: WorkerPool, forged: str) -> None:
    attack(pool, "import sys\n_c = sys.modules['greenloop.execute.candidate']\n_orig = _c.Server._reply\n"
                 "def _reply(self, value, sent, received):\n    r = _orig(self, value, sent, received)\n"
                 f"    if value == 3:\n        r[1] = {forged}\n    return r\n"
                 "_c.Server._reply = _reply\n", "test_total")


def test_flooding_stdout_is_bounded_and_not_green(pool: WorkerPool) -> None:
    outcome = attack(pool, "import os, sys\ndef total(xs):\n    print('x' * (8 << 20))\n"
                           "    os.write(1, b'y' * (4 << 20))\n    return -1\n", "test_total")
    assert len(outcome.output) < 100_000
    assert all(len(t.output) < 100_000 for t in outcome.tests)
