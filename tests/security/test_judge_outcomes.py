"""Red team: the split judge keeps pytest's verdicts its own: a candidate's context manager may not
swallow the test's failed asserts (the attack once made a wrong candidate green). Exceptions that
claim pytest's outcomes are in test_redteam_judge_reach.py."""

from __future__ import annotations

import pytest

from greenloop.execute import Limits, TestStatus, TestSuite, WorkerPool

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


STORE_TESTS = '''from store import Store


def test_store():
    with Store() as s:
        s.put("a", 1)
        assert s.get("a") == 1
        assert s.get("b") is None


def test_arithmetic():
    with Store() as s:
        assert s.get("a") + 1 == 2
'''
# put() raises and get() answers None: the asserts after the failing line must still decide.
SWALLOWS_ITS_OWN = '''
class Store:
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return True
    def put(self, k, v):
        raise RuntimeError("not written yet")
    def get(self, k):
        return None
'''


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "full"])
def test_a_context_manager_cannot_swallow_its_own_errors_or_the_tests(fast: bool) -> None:
    """Its own exception from a call, or the TypeError of the test's `None + 1`, skipped the rest of
    the block; only what the test raises on purpose is the candidate's to suppress."""
    with WorkerPool(TestSuite(STORE_TESTS, "test_store.py", "store"), Limits(timeout=3), fast=fast) as p:
        outcome = p.run(SWALLOWS_ITS_OWN)
        assert outcome.judge == "split"
        assert not any(t.status is TestStatus.PASSED for t in outcome.tests), outcome
