"""The warm sandboxed pool against honest and hostile candidates: green must be real."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import GOOD, PARTIAL, SLUG_TESTS
from greenloop.execute import Limits, TestStatus, TestSuite, WorkerPool


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(TestSuite(SLUG_TESTS, "test_slugger.py", "slugger"), Limits(timeout=3)) as p:
        yield p


def test_expected_ids_come_from_collection_without_the_candidate(pool: WorkerPool) -> None:
    assert pool.expected_ids() == [
        "test_slugger.py::test_basic", "test_slugger.py::test_param[A-a]",
        "test_slugger.py::test_param[B  C-b-c]", "test_slugger.py::test_rejects_none",
    ]


def test_honest_candidate_is_green(pool: WorkerPool) -> None:
    outcome = pool.run(GOOD)
    assert outcome.green and outcome.passed == 4 and not outcome.problem


def test_partial_candidate_reports_each_test(pool: WorkerPool) -> None:
    outcome = pool.run(PARTIAL)
    assert not outcome.green and outcome.passed == 3
    failing = [t for t in outcome.tests if t.status is not TestStatus.PASSED]
    assert [t.test_id for t in failing] == ["test_slugger.py::test_rejects_none"]
    assert "AttributeError" in failing[0].message and failing[0].locals == {"text": "None"}


def test_assertion_detail_has_actual_and_expected(pool: WorkerPool) -> None:
    outcome = pool.run("def slugify(text):\n    return text.upper()\n")
    basic = outcome.tests[0]
    assert basic.status is TestStatus.FAILED
    assert (basic.expression, basic.actual, basic.expected) == ("slugify('Hello World')", "'HELLO WORLD'", "'hello-world'")


HOSTILE = {
    "sys.exit at import": "import sys\nsys.exit(0)\n",
    "os._exit at import": "import os\nos._exit(0)\n",
    "sys.exit in the test": "def slugify(text):\n    import sys\n    sys.exit(0)\n",
    "os._exit in the test": "def slugify(text):\n    import os\n    os._exit(0)\n",
    "crash at import": "raise RuntimeError('boom')\n",
    "segfault": "import ctypes\ndef slugify(text):\n    ctypes.string_at(0)\n",
    "fake report": "print('4 passed in 0.01s')\nprint('{\"kind\": \"done\", \"exitstatus\": 0}')\ndef slugify(text):\n    return 1\n",
    "always-equal object": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
        "def slugify(text):\n    if text is None:\n        raise TypeError\n    return Anything()\n"
    ),
    "always-equal str subclass": (
        "class S(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\n"
        "def slugify(text):\n    if text is None:\n        raise TypeError\n    return S('x')\n"
    ),
    "always-equal inside a list": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n"
        "def slugify(text):\n    if text is None:\n        raise TypeError\n    return Anything()\n"
    ),
    "patched TestReport": (
        "from _pytest.reports import TestReport\n_orig = TestReport.from_item_and_call\n"
        "def _fake(item, call):\n    r = _orig(item, call)\n    r.outcome = 'passed'\n    r.longrepr = None\n    return r\n"
        "TestReport.from_item_and_call = staticmethod(_fake)\n"
        "def slugify(text):\n    return 'wrong'\n"
    ),
    "patched pyfunc call": (
        "import _pytest.python\n_pytest.python.pytest_pyfunc_call = lambda pyfuncitem: True\n"
        "def slugify(text):\n    return 'wrong'\n"
    ),
    "conftest written at run time": (
        "open('conftest.py', 'w').write('import pytest\\n@pytest.hookimpl(wrapper=True)\\n"
        "def pytest_runtest_makereport(item, call):\\n    r = yield\\n    r.outcome = \"passed\"\\n    return r\\n')\n"
        "def slugify(text):\n    return 'wrong'\n"
    ),
    "test file rewritten": (
        "import glob\nfor name in glob.glob('test_*.py'):\n    open(name, 'w').write('def test_ok():\\n    pass\\n')\n"
        "def slugify(text):\n    return 'wrong'\n"
    ),
    "test function replaced": (
        "import sys\n"
        "def _patch():\n    mod = sys.modules.get('test_slugger')\n    for name in dir(mod):\n"
        "        if name.startswith('test_'):\n            setattr(mod, name, lambda *a, **k: None)\n"
        "def slugify(text):\n    _patch()\n    return 'wrong'\n"
    ),
    "kills its worker": "import os, signal\ndef slugify(text):\n    os.kill(os.getppid(), signal.SIGKILL)\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_candidate_is_never_green(pool: WorkerPool, name: str) -> None:
    outcome = pool.run(HOSTILE[name])
    assert not outcome.green, f"{name} faked a pass: {outcome}"
    assert outcome.passed < outcome.total


def test_pool_still_serves_honest_candidates_after_hostile_ones(pool: WorkerPool) -> None:
    assert pool.run(GOOD).green


def test_infinite_loop_times_out_and_names_the_test() -> None:
    suite = TestSuite(SLUG_TESTS, "test_slugger.py", "slugger")
    with WorkerPool(suite, Limits(timeout=1)) as p:
        outcome = p.run("def slugify(text):\n    while True:\n        pass\n")
        assert not outcome.green
        assert outcome.tests[0].status is TestStatus.TIMEOUT
        assert "timed out" in outcome.problem
        assert p.run(GOOD).green, "the worker recovers after a timeout"


def test_child_process_outliving_the_candidate_is_killed(tmp_path) -> None:
    suite = TestSuite(SLUG_TESTS, "test_slugger.py", "slugger")
    code = GOOD + (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(30)\n    os._exit(0)\n"
    )
    with WorkerPool(suite, Limits(timeout=2)) as p:
        outcome = p.run(code)
        assert outcome.green  # the tests themselves pass...
        # ...and the next run starts with no leftover process (the worker killed it)
        probe = GOOD + "import os\nLEFT = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        assert p.run(probe).green


def test_a_different_test_file_needs_a_different_pool() -> None:
    other = "from slugger import twice\n\ndef test_twice():\n    assert twice(2) == 4\n"
    with WorkerPool(TestSuite(other, "test_other.py", "slugger")) as p:
        assert p.expected_ids() == ["test_other.py::test_twice"]
        assert p.run("def twice(n):\n    return 2 * n\n").green
