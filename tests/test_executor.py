"""The warm sandboxed pool against honest and hostile candidates: green must be real."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

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


def test_skip_marks_are_honoured_but_still_need_a_passing_test() -> None:
    tests = ("import pytest\nfrom m import f\n\n@pytest.mark.skip(reason='later')\ndef test_later():\n    assert f() == 2\n\n"
             "def test_now():\n    assert f() == 1\n")
    with WorkerPool(TestSuite(tests, "test_m.py", "m")) as p:
        outcome = p.run("def f():\n    return 1\n")
        assert outcome.green
        assert [t.status for t in outcome.tests] == [TestStatus.SKIPPED, TestStatus.PASSED]


def test_tests_using_the_target_at_import_time_take_the_full_path() -> None:
    tests = ("import pytest\nfrom m import VALUES, f\n\n@pytest.mark.parametrize('x', VALUES)\n"
             "def test_f(x):\n    assert f(x) == x\n")
    with WorkerPool(TestSuite(tests, "test_m.py", "m")) as p:
        outcome = p.run("VALUES = [1, 2, 3]\ndef f(x):\n    return x\n")
        assert outcome.green and outcome.total == 3


def test_fixtures_and_classes_work() -> None:
    tests = ("import pytest\nfrom m import Counter\n\n@pytest.fixture\ndef counter():\n    return Counter()\n\n"
             "class TestCounter:\n    def test_starts_at_zero(self, counter):\n        assert counter.value == 0\n\n"
             "    def test_increments(self, counter, tmp_path):\n        counter.add()\n        assert counter.value == 1\n")
    with WorkerPool(TestSuite(tests, "test_m.py", "m")) as p:
        good = "class Counter:\n    def __init__(self):\n        self.value = 0\n    def add(self):\n        self.value += 1\n"
        assert p.run(good).green
        assert p.run(good.replace("+= 1", "+= 2")).passed == 1


def test_fast_path_and_full_path_agree() -> None:
    suite = TestSuite(SLUG_TESTS, "test_slugger.py", "slugger")
    with WorkerPool(suite, fast=True) as fast, WorkerPool(suite, fast=False) as full:
        for code in (GOOD, PARTIAL, "def slugify(text):\n    return text.upper()\n", "x = (", "import sys\nsys.exit(0)\n"):
            a, b = fast.run(code), full.run(code)
            assert [(t.test_id, t.status) for t in a.tests] == [(t.test_id, t.status) for t in b.tests], code
            assert a.green == b.green


def test_infinite_loop_times_out_and_names_the_test() -> None:
    suite = TestSuite(SLUG_TESTS, "test_slugger.py", "slugger")
    with WorkerPool(suite, Limits(timeout=1)) as p:
        outcome = p.run("def slugify(text):\n    while True:\n        pass\n")
        assert not outcome.green
        assert outcome.tests[0].status is TestStatus.TIMEOUT
        assert "timed out" in outcome.problem
        assert p.run(GOOD).green, "the worker recovers after a timeout"


def test_a_different_test_file_needs_a_different_pool() -> None:
    other = "from slugger import twice\n\ndef test_twice():\n    assert twice(2) == 4\n"
    with WorkerPool(TestSuite(other, "test_other.py", "slugger")) as p:
        assert p.expected_ids() == ["test_other.py::test_twice"]
        assert p.run("def twice(n):\n    return 2 * n\n").green


def test_idle_pool_shrinks_and_grows_again() -> None:
    with WorkerPool(TestSuite(SLUG_TESTS, "test_slugger.py", "slugger"), idle_seconds=0.3) as p:
        assert p.run(GOOD).green and p.workers == 1
        deadline = time.monotonic() + 5
        while p.workers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.workers == 0
        assert p.run(GOOD).green and p.workers == 1


def test_worker_is_replaced_after_its_job_quota() -> None:
    with WorkerPool(TestSuite(SLUG_TESTS, "test_slugger.py", "slugger"), max_jobs_per_worker=2) as p:
        for _ in range(5):
            assert p.run(GOOD).green
        assert p.started == 3  # 6 jobs (collection + 5 candidates), 2 per worker


def test_two_workers_serve_concurrent_candidates() -> None:
    with WorkerPool(TestSuite(SLUG_TESTS, "test_slugger.py", "slugger"), size=2) as p:
        p.expected_ids()
        with ThreadPoolExecutor(4) as threads:
            outcomes = list(threads.map(p.run, [GOOD, PARTIAL] * 4))
        assert [o.passed for o in outcomes] == [4, 3] * 4
        assert p.workers <= 2


def test_pools_are_forks_of_one_zygote_that_is_restarted_when_it_dies() -> None:
    from greenloop.execute import zygote
    from greenloop.execute.sandbox import worker_command

    suite = TestSuite(SLUG_TESTS, "test_slugger.py", "slugger")
    argv, sandboxed = worker_command()
    with WorkerPool(suite) as first:
        assert first.run(GOOD).green
        the_zygote = zygote.get(argv, sandboxed)
        with WorkerPool(suite, fast=False) as second:  # a clean re-run: a fork, not a new sandbox
            assert second.run(GOOD).green
        assert zygote.get(argv, sandboxed) is the_zygote and the_zygote.alive()
        pid = the_zygote.proc.pid
        the_zygote.proc.kill()  # a new test file's pool still gets a worker: from a new zygote
        the_zygote.proc.wait()
    with WorkerPool(suite) as third:
        assert third.run(GOOD).green
        assert zygote.get(argv, sandboxed).proc.pid != pid


@pytest.mark.parametrize("source, reason", [
    ("from m import f\n\ndef test_f():\n    assert f(1) == 2\n", ""),
    ("import m\n\ndef test_f():\n    assert m.f(1) is None\n", ""),
    ("import m\n\ndef test_f(monkeypatch):\n    monkeypatch.setattr(m, 'g', len)\n", "monkeypatch"),
    ("import m\n\ndef test_f():\n    m.LIMIT = 3\n", "assigns into m"),
    ("from m import f\n\ndef test_f():\n    x = []\n    assert f(x) is x\n", "identity"),
    ("from m import Base\n\nclass Mine(Base):\n    pass\n", "subclasses"),
    ("import m.sub\n", "submodule"),
    ("import numpy\nfrom m import f\n", "numpy"),
    ("import m\n\ndef test_f():\n    assert 'x' in vars(m)\n", "vars"),
    ("from m import f\n\nasync def test_f():\n    await f()\n", "async"),
])
def test_split_or_shared_is_decided_from_the_test_source(source: str, reason: str) -> None:
    from greenloop.execute.analysis import split_problem

    found = split_problem(source, "m")
    assert (reason in found and bool(found)) if reason else found == ""
