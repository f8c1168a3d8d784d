"""Red team, part 5: a wrong candidate against the split judge's boundary, one attack per test.

The candidate module is the attacker: it returns values that the codec must not rebuild as
anything but their real content, raises exceptions that must not turn into skips or passes,
writes raw frames onto its own socket, calls back into the judge, and looks for the tests in
every place its process can read. Each test runs the attack through the real `WorkerPool`
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


# -- what the candidate process can read -------------------------------------------------------
SEARCH = '''
import glob, os, socket
# Built at run time, so that the candidate's own file does not hold them.
NEEDLES = ("hello" + "-world", "def " + "test_basic", "test_" + "slugger")
def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read(1 << 20).decode("latin-1")
    except OSError:
        return ""
def _found():
    paths = glob.glob("/tmp/**", recursive=True) + glob.glob("/dev/shm/**", recursive=True)
    paths += glob.glob("/var/tmp/**", recursive=True) + glob.glob("/run/**", recursive=True)
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            for leaf in ("cmdline", "environ", "maps", "cwd", "root", "mem"):
                paths.append(f"/proc/{pid}/{leaf}")
            try:
                paths += [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")]
                paths += [f"/proc/{pid}/cwd/{n}" for n in os.listdir(f"/proc/{pid}/cwd")]
            except OSError:
                pass
    paths += [f"/proc/self/fd/{fd}" for fd in os.listdir("/proc/self/fd")]
    for path in paths:
        if os.path.isfile(path) or path.startswith("/proc"):
            text = _read(path)
            for needle in NEEDLES:
                if needle in text:
                    return f"{needle} in {path}"
    for line in _read("/proc/net/unix").splitlines()[1:]:
        name = line.split()[-1] if len(line.split()) > 7 else ""
        if name.startswith("@"):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect("\\0" + name[1:])
                return f"connected to {name}"
            except OSError:
                pass
    return "nothing"
def slugify(text):
    return _found()
'''


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "full"])
def test_the_candidate_finds_no_trace_of_the_tests_anywhere_it_can_read(fast: bool) -> None:
    # A failing honest run first: its feedback, output and files are what a later candidate
    # would look for.
    with WorkerPool(TestSuite(SLUG_TESTS, "test_slugger.py", "slugger"), Limits(timeout=5), fast=fast) as p:
        assert not p.run("def slugify(text):\n    print('out', text)\n    return 'no'\n").green
        outcome = p.run(SEARCH)
        assert outcome.judge == "split"
        assert outcome.tests[0].actual == "'nothing'", outcome.tests[0]
        assert p.run(SLUG_HONEST).green


def test_the_search_finds_the_tests_where_they_are_readable() -> None:
    # Control for the test above: in the shared judge the test file is in the candidate's own
    # scratch directory, and the same search finds it.
    with WorkerPool(TestSuite(SLUG_TESTS, "test_slugger.py", "slugger"), Limits(timeout=5), judge="shared") as p:
        outcome = p.run(SEARCH)
        assert outcome.tests[0].actual.startswith("'hello-world in /tmp/"), outcome.tests[0]


# -- a forged description of the candidate's classes and exceptions ----------------------------
# The candidate process runs greenloop's own candidate.py: the candidate module can rewrite what
# its process tells the judge about its classes, exceptions and values.
FORGE = '''
import sys
_c = sys.modules["greenloop.execute.candidate"]
_orig = _c.Server._describe
def _describe(self, cls):
    d = _orig(self, cls)
    if cls.__name__ == "Liar":
        d["methods"] = d["methods"] + EXTRA_METHODS
        d["dunders"] = [x for x in d["dunders"] if x not in ("__eq__", "__ne__")] + EXTRA_DUNDERS
    return d
_c.Server._describe = _describe
'''


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "full"])
@pytest.mark.parametrize("where", ["methods", "classmethods"])
def test_a_forged_class_description_cannot_install_an_unguarded_eq(fast: bool, where: str) -> None:
    # "__eq__" listed as a plain method would forward every comparison, with plain data too.
    code = ("EXTRA_METHODS = []\nEXTRA_DUNDERS = []\n" + FORGE +
            f"_plain = _describe\ndef _describe(self, cls):\n    d = _plain(self, cls)\n"
            f"    if cls.__name__ == 'Liar':\n        d[{where!r}] = d[{where!r}] + ['__eq__', '__ne__']\n    return d\n"
            "_c.Server._describe = _describe\n"
            "class Liar:\n    __eq__ = staticmethod(lambda *a: True)\n    __ne__ = staticmethod(lambda *a: False)\n"
            "    __hash__ = object.__hash__\n"
            "def slugify(text):\n    return Liar()\n")
    with WorkerPool(TestSuite(SLUG_TESTS, "test_slugger.py", "slugger"), Limits(timeout=3), fast=fast) as p:
        outcome = p.run(code)
        assert outcome.judge == "split"
        assert not outcome.green, outcome
        assert p.run(SLUG_HONEST).green


def test_a_forwarded_getattribute_cannot_spoof_a_class_for_pytest_approx() -> None:
    # A forwarded __getattribute__ that answers `__class__` with float would make pytest.approx's
    # isinstance(actual, Complex) hold, and the candidate's __rsub__ then makes |expected - actual| 0.
    tests = "import pytest\nfrom area import area\n\n\ndef test_area():\n    assert area(1) == pytest.approx(3.14159)\n"
    code = ("EXTRA_METHODS = []\nEXTRA_DUNDERS = ['__getattribute__']\n" + FORGE +
            "_op = _c.Server._operator\n"
            "def _operator(target, name, args):\n"
            "    if name == '__getattribute__' and list(args) == ['__class__']:\n        return float\n"
            "    return _op(target, name, args)\n"
            "_c.Server._operator = staticmethod(_operator)\n"
            "class Liar:\n    def __rsub__(self, other): return 0.0\n    def __sub__(self, other): return 0.0\n"
            "def area(r):\n    return Liar()\n")
    with WorkerPool(TestSuite(tests, "test_area.py", "area"), Limits(timeout=3)) as p:
        outcome = p.run(code)
        assert outcome.judge == "split"
        assert not outcome.green, outcome
        assert p.run("def area(r):\n    return 3.14159 * r * r\n").green


SKIP_TESTS = '''\
import sys
import pytest
from lib import make, total


@pytest.fixture
def made():
    return make()


@pytest.mark.skipif(sys.platform == "win32", reason="posix only")
def test_made(made):
    assert made == 3


def test_total():
    assert total([1, 2]) == 3
'''
SKIP_HONEST = "def make():\n    return 3\n\ndef total(xs):\n    return sum(xs)\n"
SKIPPED_CLASS = ("['k', 999998, {'name': 'Skipped', 'qualname': 'Skipped', 'module': '_pytest.outcomes', 'bases': [],"
                 " 'exc': True, 'methods': [], 'classmethods': [], 'dunders': [], 'nohash': False}]")


@pytest.fixture(scope="module")
def skip_pool() -> Iterator[WorkerPool]:
    with WorkerPool(TestSuite(SKIP_TESTS, "test_lib.py", "lib"), Limits(timeout=3)) as p:
        yield p


def skipped_not_green(pool: WorkerPool, code: str) -> None:
    outcome = pool.run(code)
    assert outcome.judge == "split"
    assert not outcome.green, outcome
    assert outcome.tests[0].status is not TestStatus.SKIPPED, outcome.tests[0]
    assert pool.run(SKIP_HONEST).green


def test_an_exception_attribute_named_class_does_not_make_a_skip(skip_pool: WorkerPool) -> None:
    # Raised by a fixture of a test that carries a (false) skipif mark: a skip there would count.
    skipped_not_green(skip_pool, "import sys\n_c = sys.modules['greenloop.execute.candidate']\n"
                                 "_orig = _c.Server._exception\n"
                                 "def _exception(self, exc):\n    r = _orig(self, exc)\n"
                                 f"    r[4]['__class__'] = {SKIPPED_CLASS}\n"
                                 "    return r\n_c.Server._exception = _exception\n"
                                 "class Later(Exception):\n    pass\n"
                                 "def make():\n    raise Later('later')\n\ndef total(xs):\n    return sum(xs)\n")


def test_pytest_skip_raised_by_a_fixture_call_is_not_a_skip(skip_pool: WorkerPool) -> None:
    skipped_not_green(skip_pool, "import pytest\ndef make():\n    pytest.skip('later')\n\n"
                                 "def total(xs):\n    return sum(xs)\n")


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


@pytest.mark.parametrize("judge", ["split", "shared"])
def test_a_process_left_behind_does_not_outlive_its_job(judge: str) -> None:
    # An orphaned, setsid grandchild that keeps writing must be gone before the next job runs.
    tests = "from probe import attack\n\n\ndef test_attack():\n    assert attack() == 'escaped'\n"
    spy = ("import os, time\n"
           "def attack():\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
           "            while True:\n                try:\n"
           "                    with open('/tmp/spy', 'a') as f:\n"
           "                        f.write(str(time.monotonic()) + '\\n')\n"
           "                except OSError:\n                    pass\n                time.sleep(0.01)\n"
           "        os._exit(0)\n    time.sleep(0.05)\n    return 'spawned'\n")
    check = ("import os, time\n"
             "def attack():\n    def size():\n        try:\n            return os.path.getsize('/tmp/spy')\n"
             "        except OSError:\n            return -1\n"
             "    before = size()\n    time.sleep(0.1)\n    return 'escaped' if size() != before else 'gone'\n")
    with WorkerPool(TestSuite(tests, "test_probe.py", "probe"), Limits(timeout=3), judge=judge) as p:
        assert not p.run(spy).green
        outcome = p.run(check)
        assert not outcome.green, outcome
        assert outcome.tests[0].actual == "'gone'", outcome.tests[0]
