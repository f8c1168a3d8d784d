"""Red team, part 6: the shared judge (the fallback), attacks that stay blocked.

The tests below use `monkeypatch` on the target, so the static analysis sends them to the shared
judge: candidate and tests in one process. The attacks here are stopped by the kernel or by
pytest's own bookkeeping, not by anything the candidate could patch; each runs through the real
pool, fast and full path, and must not be green, with honest code still green afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greenloop.execute import Limits, TestSuite, WorkerPool

SHARED_TESTS = '''\
import slugger
from slugger import slugify


def test_basic():
    assert slugify("Hello World") == "hello-world"


def test_nested():
    assert [slugify("A B")] == ["a-b"]


def test_separator(monkeypatch):
    monkeypatch.setattr(slugger, "SEP", "_")
    assert slugify("A B") == "a_b"
'''
SHARED_HONEST = "SEP = '-'\n\ndef slugify(text):\n    return SEP.join(text.lower().split())\n"
WRONG = "\nSEP = '-'\n\ndef slugify(text):\n    return 'wrong'\n"



@pytest.fixture(scope="module", params=[True, False], ids=["fast", "full"])
def pool(request: pytest.FixtureRequest) -> Iterator[WorkerPool]:
    with WorkerPool(TestSuite(SHARED_TESTS, "test_slugger.py", "slugger"), Limits(timeout=5), fast=request.param) as p:
        assert p.judge == "shared" and p.judge_reason == "uses monkeypatch"
        yield p


def not_green(pool: WorkerPool, code: str) -> None:
    outcome = pool.run(code)
    assert outcome.judge == "shared"
    assert not outcome.green, outcome
    assert outcome.passed < outcome.total
    assert pool.run(SHARED_HONEST).green, "the pool must still judge honest code green afterwards"


def test_honest_and_wrong_code(pool: WorkerPool) -> None:
    assert pool.run(SHARED_HONEST).green
    assert not pool.run(WRONG).green


def test_adding_skip_marks_at_run_time(pool: WorkerPool) -> None:
    not_green(pool, SKIP_MARKS)


def test_writing_a_forged_reply_into_every_pipe_under_proc(pool: WorkerPool) -> None:
    not_green(pool, PROC_PIPES)


def test_killing_every_process_it_can_signal(pool: WorkerPool) -> None:
    not_green(pool, "import os, signal\nSEP = '-'\ndef slugify(text):\n    os.kill(-1, signal.SIGKILL)\n    return 'x'\n")


def test_pytest_exit_and_sys_exit_inside_a_test(pool: WorkerPool) -> None:
    not_green(pool, "import pytest\nSEP = '-'\ndef slugify(text):\n    pytest.exit('done', returncode=0)\n")
    not_green(pool, "import sys\nSEP = '-'\ndef slugify(text):\n    sys.exit(0)\n")


SKIP_MARKS = "import gc, pytest\nSEP = '-'\ndef slugify(text):\n    for obj in gc.get_objects():\n        if type(obj).__name__ == 'Function' and hasattr(obj, 'add_marker'):\n            obj.add_marker(pytest.mark.skip(reason='later'))\n    pytest.skip('later')\n"
PROC_PIPES = 'import os\nSEP = \'-\'\ndef slugify(text):\n    opened = 0\n    for pid in os.listdir(\'/proc\'):\n        if not pid.isdigit() or int(pid) == os.getpid():\n            continue\n        try:\n            fds = os.listdir(f\'/proc/{pid}/fd\')\n        except OSError:\n            continue\n        for fd in fds:\n            try:\n                w = os.open(f\'/proc/{pid}/fd/{fd}\', os.O_WRONLY | os.O_NONBLOCK)\n                os.write(w, b\'{"tests": [], "problem": ""}\\n\')\n                opened += 1\n            except OSError:\n                pass\n    return f\'opened {opened}\'\n'
