"""Red team, part 7: what a candidate can reach beyond its values, against the split judge.

Where the tests could be read (every file, /proc entry and socket the candidate process can
open), what a forged description of its classes and exceptions can make of them on the judge's
side, and whether a process it leaves behind outlives its job. Each attack runs through the real
`WorkerPool` and must end not green, with honest code still green afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greenloop.execute import Limits, TestStatus, TestSuite, WorkerPool

SLUG_TESTS = "from slugger import slugify\n\n\ndef test_basic():\n    assert slugify('Hello World') == 'hello-world'\n"
SLUG_HONEST = "def slugify(text):\n    return '-'.join(text.lower().split())\n"

# -- what the candidate process can read -------------------------------------------------------
SEARCH = '''
import glob, os, socket
# Built at run time, so that the candidate's own file does not hold them.
# (Not the file's name: greenloop's own README, installed with it, mentions test_slugger.py.)
NEEDLES = ("hello" + "-world", "def " + "test_basic")
def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read(1 << 20).decode("latin-1")
    except OSError:
        return ""
def _found():
    paths = glob.glob(os.getcwd() + "/**", recursive=True) + glob.glob("/tmp/**", recursive=True)
    paths += glob.glob("/dev/shm/**", recursive=True)
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
    # scratch directory (its working directory: /tmp itself cannot be listed), and the same search finds it.
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


def test_an_exception_class_with_pytests_skipped_as_a_base_is_not_a_skip(skip_pool: WorkerPool) -> None:
    # Bases named by module and qualname once resolved to _pytest.outcomes.Skipped; with Exception as
    # a second base the rebuilt exception was also a pytest.skip.Exception, and a fixture raising it
    # for a test with a (false) skipif mark made the failure a skip.
    code = ("import sys\n_c = sys.modules['greenloop.execute.candidate']\n_orig = _c.Server._describe\n"
            "class Skipped(Exception):\n    pass\n"
            "def _describe(self, cls):\n    d = _orig(self, cls)\n"
            "    if cls is Skipped:\n"
            "        d['bases'] = [['k', 999999, {'name': 'Skipped', 'qualname': 'Skipped', 'module': '_pytest.outcomes',\n"
            "                      'bases': [], 'exc': True, 'methods': [], 'classmethods': [], 'dunders': [],\n"
            "                      'nohash': False}], ['B', 'Exception']]\n"
            "    return d\n_c.Server._describe = _describe\n"
            "def make():\n    raise Skipped('later')\n\ndef total(xs):\n    return sum(xs)\n")
    skipped_not_green(skip_pool, code)


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
