"""Strategies and the round-based engine, with scripted models against the real sandbox and store."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from conftest import GOOD, PARTIAL, WRONG, fenced
from greenloop.execute import Limits, Outcome, TestResult, TestStatus, TestSuite, WorkerPool
from greenloop.loop.engine import Engine, Result, RunStatus
from greenloop.loop.prompts import first_messages, revision_messages
from greenloop.loop.solving import SolveProblem
from greenloop.loop.strategies import STRATEGIES, Attempt, Proposal
from greenloop.loop.tree import TreeStrategy
from greenloop.models import Completion, Message, Usage
from greenloop.models.scripted import ScriptedModel
from greenloop.store import Store
from greenloop.task import Budget, Task

COUNT_TESTS = '''\
from counting import count_up_to


def test_five():
    assert count_up_to(5) == [1, 2, 3, 4, 5]


def test_one():
    assert count_up_to(1) == [1]


def test_zero():
    assert count_up_to(0) == []


def test_three():
    assert count_up_to(3) == [1, 2, 3]
'''
AGE_TESTS = """\
from adults import is_adult


def test_thirty():
    assert is_adult(30) is True


def test_five():
    assert is_adult(5) is False


def test_eighteen():
    assert is_adult(18) is True


def test_zero():
    assert is_adult(0) is False
"""
# Passes 3 of 4 tests: one edit (`>` -> `>=`) away from green.
CLOSE = "def is_adult(age):\n    return age > 18\n"
FAR_AGE = "def is_adult(age):\n    return None\n"
FAR = "def count_up_to(n):\n    return 'no idea'\n"
RIGHT = "def count_up_to(n):\n    return [i for i in range(1, n + 1)]\n"


def engine_run(tmp_path: Path, tests: str, module: str, model: ScriptedModel, strategy: str, *,
               calls: int = 20, workers: int = 1, parallel: int = 1) -> tuple[Result, list[dict]]:
    (tmp_path / f"test_{module}.py").write_text(tests)
    task = Task.from_files(tmp_path / f"test_{module}.py", tmp_path / f"{module}.py")
    store = Store(tmp_path / "runs.db")
    with WorkerPool(TestSuite(task.test_source, task.tests_path.name, module), Limits(), size=workers) as pool:
        result = Engine(SolveProblem(task, pool), model, store, STRATEGIES.create(strategy), Budget(calls),
                        workers=workers, model_parallel=parallel).run()
    return result, store.attempts(result.run_id)


def test_single_makes_exactly_one_call(tmp_path: Path) -> None:
    model = ScriptedModel([fenced(WRONG), fenced(GOOD)])
    result, attempts = engine_run(tmp_path, __import__("conftest").SLUG_TESTS, "slugger", model, "single")
    assert result.status is RunStatus.EXHAUSTED and "single strategy stopped" in result.message
    assert result.model_calls == 1 and len(model.calls) == 1 and len(attempts) == 1


def test_sample_never_shows_feedback_and_overlaps_a_round(tmp_path: Path) -> None:
    model = ScriptedModel([fenced(WRONG), fenced(PARTIAL), fenced(WRONG), fenced(GOOD), fenced(WRONG)])
    result, attempts = engine_run(tmp_path, __import__("conftest").SLUG_TESTS, "slugger", model, "sample")
    assert result.status is RunStatus.GREEN and result.calls_to_green == 4
    first = model.calls[0]
    assert all(call == first for call in model.calls), "every sample is the same first request"
    # recorded as they finish: the repeated reply is recorded once its twin has run, and never runs itself
    assert sorted(a["kind"] for a in attempts[:4]) == ["duplicate", "model", "model", "model"]
    duplicate = next(a for a in attempts if a["kind"] == "duplicate")
    assert duplicate["code"] == WRONG and duplicate["exec_seconds"] == 0


def test_tree_repairs_a_close_candidate_without_a_model_call(tmp_path: Path) -> None:
    model = ScriptedModel([fenced(FAR_AGE), fenced(CLOSE), fenced(FAR_AGE), fenced(FAR_AGE)] + [fenced(FAR_AGE)] * 20)
    result, attempts = engine_run(tmp_path, AGE_TESTS, "adults", model, "tree")
    assert result.status is RunStatus.GREEN and result.green_kind == "repair"
    assert result.calls_to_green == 4, "the repair ran after the first round, before any further call"
    assert result.model_calls == 4 and len(model.calls) == 4
    green = next(a for a in attempts if a["green"])
    assert green["kind"] == "repair" and "age >= 18" in green["code"] and "line 2" in green["response"]
    parent = next(a for a in attempts if a["n"] == green["parent"])
    assert parent["code"] == CLOSE and parent["passed"] == 3
    assert result.repairs >= 1 and all(a["prompt_tokens"] == 0 for a in attempts if a["kind"] == "repair")


def test_tree_revises_a_close_node_and_shows_failing_tests_as_examples(tmp_path: Path) -> None:
    half = "def count_up_to(n):\n    return [1, 2, 3][:n]\n"  # 3 of 4 tests; no single edit fixes it
    model = ScriptedModel([fenced(FAR), fenced(half), fenced(FAR), fenced(FAR)] + [fenced(FAR)] * 3 + [fenced(RIGHT)]
                          + [fenced(FAR)] * 4)
    result, attempts = engine_run(tmp_path, COUNT_TESTS, "counting", model, "tree")
    assert result.status is RunStatus.GREEN and result.calls_to_green == 8
    assert any(a["kind"] == "repair" for a in attempts), "the close node got local repair first"
    revision, plain, examples = model.calls[4][-1]["content"], model.calls[5], model.calls[6][-1]["content"]
    assert "This attempt is wrong" in revision and "[1, 2, 3][:n]" in revision
    assert "count_up_to(5) returned [1, 2, 3], expected [1, 2, 3, 4, 5]" in revision
    task = Task.from_files(tmp_path / "test_counting.py", tmp_path / "counting.py")
    assert plain == first_messages(task, "tests")
    assert ">>> count_up_to(5)\n    [1, 2, 3, 4, 5]" in examples and "This attempt" not in examples


def test_green_mid_round_stops_asking_and_duplicates_run_once(tmp_path: Path) -> None:
    model = ScriptedModel([fenced(FAR), fenced(FAR), fenced(RIGHT)] + [fenced(FAR)] * 10)
    calls: list[int] = []
    original = model.complete

    def counted(messages: list[Message], **kwargs: object) -> Completion:
        calls.append(1)
        time.sleep(0.05)
        return original(messages, **kwargs)  # type: ignore[arg-type]

    model.complete = counted  # type: ignore[method-assign]
    result, attempts = engine_run(tmp_path, COUNT_TESTS, "counting", model, "sample")
    assert result.status is RunStatus.GREEN and result.calls_to_green == 3
    assert len(calls) <= 4 and result.model_calls == len(calls)
    assert [a["kind"] for a in attempts[:3]] == ["model", "duplicate", "model"]
    assert attempts[1]["exec_seconds"] == 0


class SlowModel:
    """A remote-like model: calls take a while and may run concurrently."""

    name = "slow"
    prompt_style = "tests"

    def __init__(self, replies: list[str]) -> None:
        self.replies, self.active, self.most = list(replies), 0, 0
        self.lock = threading.Lock()

    def check(self) -> None:
        pass

    def complete(self, messages: list[Message], *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Completion:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
            reply = self.replies.pop(0)
        time.sleep(0.2)
        with self.lock:
            self.active -= 1
        return Completion(reply, Usage(10, 10, 0.2))


def test_parallel_model_calls_overlap(tmp_path: Path) -> None:
    model = SlowModel([fenced(FAR)] * 4 + [fenced(RIGHT)] * 8)
    started = time.monotonic()
    result, _ = engine_run(tmp_path, COUNT_TESTS, "counting", model, "sample", parallel=4, workers=2)  # type: ignore[arg-type]
    assert result.status is RunStatus.GREEN and model.most == 4
    assert time.monotonic() - started < 0.2 * result.model_calls, "calls ran concurrently"
    assert result.model_seconds == pytest.approx(0.2 * result.model_calls)
    # Waiting on the model, in wall time: four calls at once count once.
    assert 0.2 <= result.model_wall_seconds < result.model_seconds / 2 and result.model_wall_seconds <= result.seconds


def _attempt(n: int, passed: int, total: int = 4, parent: int | None = None, kind: str = "model") -> Attempt:
    tests = tuple(TestResult(f"t.py::test_{i}", TestStatus.PASSED if i < passed else TestStatus.FAILED, "wrong")
                  for i in range(total))
    return Attempt(n, f"def f():\n    return {n}\n", Outcome(tests), f"feedback {n}", parent, n, kind)


def test_tree_revises_each_close_node_once_best_first(tmp_path: Path) -> None:
    (tmp_path / "test_m.py").write_text("from m import f\n\ndef test_f():\n    assert f() == 1\n")
    task = Task.from_files(tmp_path / "test_m.py", tmp_path / "m.py")
    tree = TreeStrategy(width=4, max_repairs=0)  # no local repair: this is about the model's proposals
    first = tree.propose(SolveProblem(task), "tests", [])
    assert len(first) == 4 and all(p.parent is None and p.temperature == 0.8 for p in first)
    history = [_attempt(1, 1), _attempt(2, 3), _attempt(3, 2), _attempt(4, 0)]
    round2 = tree.propose(SolveProblem(task), "tests", history)
    assert [p.parent.n if p.parent else None for p in round2] == [2, None, None, None]
    assert "feedback 2" in round2[0].messages[-1]["content"]
    history += [_attempt(5, 3, parent=2, kind="duplicate")]
    round3 = tree.propose(SolveProblem(task), "tests", history)
    assert round3[0].parent is not None and round3[0].parent.n == 3  # 2 of 4: still close
    history += [_attempt(6, 2, parent=3, kind="duplicate")]
    assert all(p.parent is None for p in tree.propose(SolveProblem(task), "tests", history)), "no close node left to revise"
    twice = TreeStrategy(max_revisions=2, max_repairs=0)
    again = twice.propose(SolveProblem(task), "tests", history[:5])
    assert again[0].parent is not None and again[0].parent.n == 2 and again[0].temperature > round2[0].temperature


def test_tree_raises_the_temperature_of_fresh_samples_that_come_back_duplicated(tmp_path: Path) -> None:
    (tmp_path / "test_m.py").write_text("from m import f\n\ndef test_f():\n    assert f() == 1\n")
    task = Task.from_files(tmp_path / "test_m.py", tmp_path / "m.py")
    tree = TreeStrategy(max_repairs=0)
    history = [_attempt(1, 0)] + [_attempt(i, 0, kind="duplicate") for i in range(2, 6)]
    fresh = [p for p in tree.propose(SolveProblem(task), "tests", history) if p.parent is None]
    assert fresh and all(p.temperature > 0.8 for p in fresh)


STUB = '''from typing import List


def below_zero(operations: List[int]) -> bool:
    """ Is the running balance ever below zero?
    >>> below_zero([1, 2, 3])
    False
    """
'''


def test_fresh_samples_show_the_tests_the_best_nodes_fail_as_doctest_examples(tmp_path: Path) -> None:
    (tmp_path / "test_bank.py").write_text(
        "import pytest\nfrom bank import below_zero\n\n\ndef test_1():\n    assert below_zero([1, 2, 3]) == False\n\n\n"
        "def test_2():\n    assert below_zero([1, -2]) == True\n\n\ndef test_3():\n    x = 1\n    assert below_zero([x])\n")
    (tmp_path / "bank.py").write_text(STUB)
    task = Task.from_files(tmp_path / "test_bank.py", tmp_path / "bank.py")
    results = (TestResult("test_bank.py::test_1", TestStatus.PASSED),
               TestResult("test_bank.py::test_2", TestStatus.ERROR, "TypeError: boom"),
               TestResult("test_bank.py::test_3", TestStatus.FAILED, "wrong"))
    node = Attempt(1, "def below_zero(operations):\n    return False\n", Outcome(results), "fb", None, 1)
    fresh = [p for p in TreeStrategy().propose(SolveProblem(task), "examples", [node]) if p.parent is None]
    assert len(fresh) == 4 and fresh[0].messages == first_messages(task, "examples")
    shown = fresh[1].messages[-1]["content"]
    # test_3's truthiness assert, its local folded in, is an example too (the stub's derivation).
    assert ("    >>> below_zero([1, 2, 3])\n    False\n    >>> below_zero([1, -2])\n    True\n"
            "    >>> below_zero([1])\n    True\n    \"\"\"") in shown
    assert shown.count(">>>") == 3, "a passing test adds nothing"
    assert "return False" not in shown, "no wrong code to anchor on"


def test_tree_renames_a_function_the_reply_wrote_under_another_name(tmp_path: Path) -> None:
    misnamed = "def count_numbers(n):\n    return [i for i in range(1, n + 1)]\n"
    model = ScriptedModel([fenced(FAR), fenced(misnamed), fenced(FAR), fenced(FAR)] + [fenced(FAR)] * 8)
    result, attempts = engine_run(tmp_path, COUNT_TESTS, "counting", model, "tree")
    assert result.status is RunStatus.GREEN and result.green_kind == "repair" and result.model_calls == 4
    green = next(a for a in attempts if a["green"])
    assert green["code"].endswith("count_up_to = count_numbers\n") and "named count_up_to count_numbers" in green["response"]


def test_a_strategy_written_against_the_task_api_still_runs(tmp_path: Path) -> None:
    """Strategies receive the Problem; one that hands it to `loop.prompts` as if it were the Task
    (the API before the Problem seam) gets the problem's own requests."""
    (tmp_path / "test_counting.py").write_text(COUNT_TESTS)
    task = Task.from_files(tmp_path / "test_counting.py", tmp_path / "counting.py")
    problem = SolveProblem(task)
    assert first_messages(problem, "tests") == first_messages(task, "tests") == problem.first_messages("tests")

    class OldStyle:
        name = "old-style"

        def propose(self, task, style, history):  # noqa: ANN001, ANN201
            if not history:
                return [Proposal(first_messages(task, style), 0.5)]
            return [Proposal(revision_messages(task, style, history[-1].code or "", history[-1].feedback), 0.5)]

    store = Store(tmp_path / "runs.db")
    with WorkerPool(TestSuite(task.test_source, task.tests_path.name, "counting"), Limits()) as pool:
        result = Engine(SolveProblem(task, pool), ScriptedModel([fenced(FAR), fenced(RIGHT)]), store, OldStyle(),
                        Budget(3)).run()
    assert result.status is RunStatus.GREEN and result.model_calls == 2
    revision = store.attempts(result.run_id)[1]["messages"][-1]["content"]
    assert "'no idea'" in revision, "the revision showed the failed code"
