"""Red team, part 1: candidates that try to be reported green without passing. None may succeed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greenloop.execute import Limits, TestSuite, WorkerPool

TESTS = '''\
from slugger import slugify


def test_basic():
    assert slugify("Hello World") == "hello-world"


def test_nested():
    assert [slugify("A B")] == ["a-b"]
'''
HONEST = "def slugify(text):\n    return '-'.join(text.lower().split())\n"


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(TestSuite(TESTS, "test_slugger.py", "slugger"), Limits(timeout=3)) as p:
        yield p


def not_green(pool: WorkerPool, code: str) -> None:
    outcome = pool.run(code)
    assert not outcome.green, outcome
    assert outcome.passed < outcome.total
    assert pool.run(HONEST).green, "the pool must still judge honest code correctly afterwards"


def test_sys_exit_at_import(pool: WorkerPool) -> None:
    not_green(pool, "import sys\nsys.exit(0)\n")


def test_os_exit_at_import(pool: WorkerPool) -> None:
    not_green(pool, "import os\nos._exit(0)\n")


def test_sys_exit_inside_the_test(pool: WorkerPool) -> None:
    not_green(pool, "import sys\ndef slugify(text):\n    sys.exit(0)\n")


def test_os_exit_inside_the_test(pool: WorkerPool) -> None:
    not_green(pool, "import os\ndef slugify(text):\n    os._exit(0)\n")


def test_keyboard_interrupt_inside_the_test(pool: WorkerPool) -> None:
    not_green(pool, "def slugify(text):\n    raise KeyboardInterrupt\n")


def test_crash_at_import(pool: WorkerPool) -> None:
    not_green(pool, "raise ImportError('nope')\n")


def test_segfault(pool: WorkerPool) -> None:
    not_green(pool, "import ctypes\ndef slugify(text):\n    ctypes.string_at(0)\n")


def test_printing_a_fake_report(pool: WorkerPool) -> None:
    fake = '{"kind": "test", "id": "test_slugger.py::test_basic", "status": "passed"}\\t' + "0" * 64
    not_green(pool, f"import os\nprint('2 passed in 0.01s')\nos.write(1, b'{fake}\\n')\n"
                    "def slugify(text):\n    return 'x'\n")


def test_writing_fake_records_to_every_descriptor(pool: WorkerPool) -> None:
    record = '{"kind": "test", "id": "test_slugger.py::test_basic", "status": "passed", "message": ""}\\t00\\n'
    not_green(pool, "import os\n"
                    f"for fd in range(3, 64):\n    try:\n        os.write(fd, b'{record}')\n    except OSError:\n        pass\n"
                    "def slugify(text):\n    return 'x'\n")


def test_forging_the_runners_last_record(pool: WorkerPool) -> None:
    # The worker stops reading at the runner's last record: a forged one may cut the report short,
    # which can only lose the candidate its own passes.
    record = '{"kind": "exit"}\\t' + "0" * 64 + "\\n"
    outcome = pool.run("import os\n"
                       f"for fd in range(3, 64):\n    try:\n        os.write(fd, b'{record}')\n    except OSError:\n        pass\n"
                       "def slugify(text):\n    return '-'.join(text.lower().split())\n")
    assert not outcome.green, outcome  # cut short, or the unsigned line is reported: never green
    assert pool.run(HONEST).green


def test_object_whose_eq_is_always_true(pool: WorkerPool) -> None:
    not_green(pool, "class Anything:\n    def __eq__(self, other):\n        return True\n\n"
                    "def slugify(text):\n    return Anything()\n")


def test_str_subclass_whose_eq_is_always_true(pool: WorkerPool) -> None:
    not_green(pool, "class S(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\n\n"
                    "def slugify(text):\n    return S('wrong')\n")


def test_patching_pytest_test_report(pool: WorkerPool) -> None:
    not_green(pool, "from _pytest.reports import TestReport\n_orig = TestReport.from_item_and_call\n"
                    "def _fake(item, call):\n    r = _orig(item, call)\n    r.outcome = 'passed'\n    r.longrepr = None\n    return r\n"
                    "TestReport.from_item_and_call = staticmethod(_fake)\n"
                    "def slugify(text):\n    return 'wrong'\n")


def test_patching_pytest_call_machinery(pool: WorkerPool) -> None:
    not_green(pool, "import _pytest.python, _pytest.runner\n"
                    "_pytest.python.pytest_pyfunc_call = lambda pyfuncitem: True\n"
                    "_pytest.runner.pytest_runtest_call = lambda item: None\n"
                    "def slugify(text):\n    return 'wrong'\n")


def test_conftest_written_at_run_time(pool: WorkerPool) -> None:
    not_green(pool, "open('conftest.py', 'w').write('import pytest\\n@pytest.hookimpl(wrapper=True)\\n"
                    "def pytest_runtest_makereport(item, call):\\n    r = yield\\n    r.outcome = \"passed\"\\n    return r\\n')\n"
                    "def slugify(text):\n    return 'wrong'\n")


def test_rewriting_the_test_file(pool: WorkerPool) -> None:
    not_green(pool, "import glob\nfor name in glob.glob('test_*.py'):\n    open(name, 'w').write('def test_ok():\\n    pass\\n')\n"
                    "def slugify(text):\n    return 'wrong'\n")


def test_deleting_the_test_file(pool: WorkerPool) -> None:
    not_green(pool, "import glob, os\nfor name in glob.glob('test_*.py'):\n    os.remove(name)\n"
                    "def slugify(text):\n    return 'wrong'\n")


def test_replacing_the_test_functions(pool: WorkerPool) -> None:
    not_green(pool, "import sys\n"
                    "def slugify(text):\n    mod = sys.modules.get('test_slugger')\n    for name in dir(mod):\n"
                    "        if name.startswith('test_'):\n            setattr(mod, name, lambda *a, **k: None)\n"
                    "    return 'wrong'\n")


def test_reading_expected_values_from_the_callers_frame(pool: WorkerPool) -> None:
    # The guard compares what the candidate returned; reading the expected value is possible in
    # principle, so this asserts only that the pool keeps judging by the real comparison.
    not_green(pool, "def slugify(text):\n    return None\n")


def test_calling_pytest_skip(pool: WorkerPool) -> None:
    not_green(pool, "import pytest\ndef slugify(text):\n    pytest.skip('later')\n")


def test_killing_its_worker(pool: WorkerPool) -> None:
    not_green(pool, "import os, signal\ndef slugify(text):\n    os.kill(os.getppid(), signal.SIGKILL)\n")


def test_no_test_observed_is_never_green() -> None:
    tests = "from slugger import slugify\n"  # collects nothing
    with WorkerPool(TestSuite(tests, "test_slugger.py", "slugger")) as p:
        assert p.expected_ids() == []
        outcome = p.run(HONEST)
        assert not outcome.green and outcome.total == 0
