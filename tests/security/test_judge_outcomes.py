"""Red team: the split judge keeps pytest's verdicts its own. A candidate's exception may not become
one of pytest's outcomes (a skip), and a candidate's context manager may not swallow the test's
failed asserts. Both attacks once made a wrong candidate green."""

from __future__ import annotations

from greenloop.execute import Limits, TestSuite, WorkerPool

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


def test_an_exception_class_claiming_pytests_skipped_base_is_not_a_skip() -> None:
    # proxy._class() resolves a base named by module and qualname in the judge's sys.modules:
    # _pytest.outcomes.Skipped. With Exception as a second base the rebuilt exception passes the
    # "Exception, SystemExit or GeneratorExit" check and is also a pytest.skip.Exception; raised
    # by a fixture of a test that carries a skipif mark (false here), Recorder.phase_failed
    # counts it as a skip.
    code = ("import sys\n_c = sys.modules['greenloop.execute.candidate']\n_orig = _c.Server._describe\n"
            "class Skipped(Exception):\n    pass\n"
            "def _describe(self, cls):\n    d = _orig(self, cls)\n"
            "    if cls is Skipped:\n"
            "        d['bases'] = [['k', 999999, {'name': 'Skipped', 'qualname': 'Skipped', 'module': '_pytest.outcomes',\n"
            "                      'bases': [], 'exc': True, 'methods': [], 'classmethods': [], 'dunders': [],\n"
            "                      'nohash': False}], ['B', 'Exception']]\n"
            "    return d\n_c.Server._describe = _describe\n"
            "def make():\n    raise Skipped('later')\n\ndef total(xs):\n    return sum(xs)\n")
    with WorkerPool(TestSuite(SKIP_TESTS, "test_lib.py", "lib"), Limits(timeout=3)) as p:
        assert p.run(SKIP_HONEST).green
        outcome = p.run(code)
        assert outcome.judge == "split"
        assert not outcome.green, outcome


STACK_TESTS = """\
from stack import Stack


def test_push_pop():
    with Stack() as s:
        s.push(1)
        s.push(2)
        assert s.pop() == 2
        assert len(s) == 1
"""
STACK_HONEST = ("class Stack:\n    def __init__(self): self.items = []\n    def __enter__(self): return self\n"
                "    def __exit__(self, *a): return False\n    def push(self, x): self.items.append(x)\n"
                "    def pop(self): return self.items.pop()\n    def __len__(self): return len(self.items)\n")


def test_a_context_manager_cannot_swallow_the_tests_own_asserts() -> None:
    """An `__exit__` that returns True would hide the failed assert inside the `with` block (plain
    pytest is fooled too); the split judge lets a candidate suppress its own exceptions only."""
    swallow = ("class Stack:\n    def __enter__(self): return self\n    def __exit__(self, *a): return True\n"
               "    def push(self, x): pass\n    def pop(self): return None\n    def __len__(self): return 0\n")
    with WorkerPool(TestSuite(STACK_TESTS, "test_stack.py", "stack"), Limits(timeout=3), judge="split") as p:
        assert p.run(STACK_HONEST).green
        outcome = p.run(swallow)
        assert outcome.judge == "split" and not outcome.green, outcome
        assert p.run(STACK_HONEST).green


SUPPRESS_TESTS = """\
from quiet import Quiet


def test_suppresses_its_errors():
    with Quiet():
        raise ValueError("ignored")
    assert True
"""


def test_a_context_manager_may_still_suppress_ordinary_errors() -> None:
    """contextlib.suppress-like behaviour is the candidate's to offer: only the verdicts are not."""
    quiet = "class Quiet:\n    def __enter__(self): return self\n    def __exit__(self, kind, value, tb): return kind is ValueError\n"
    with WorkerPool(TestSuite(SUPPRESS_TESTS, "test_quiet.py", "quiet"), Limits(timeout=3), judge="split") as p:
        assert p.run(quiet).green
