"""The loop with scripted models, against the real sandbox, store and pytest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import GOOD, PARTIAL, SLUG_TESTS, WRONG, fenced
from greenloop.errors import BadInput
from greenloop.execute import Limits
from greenloop.loop.engine import Engine, RunStatus
from greenloop.loop.recording import MemoryRecorder
from greenloop.loop.solving import SolveProblem
from greenloop.loop.strategies import ReviseStrategy
from greenloop.models.scripted import ScriptedModel
from greenloop.solver import prepare_pool, solve
from greenloop.store import Store
from greenloop.task import Budget, Task


def run(workspace: Path, model: ScriptedModel, **kwargs):
    kwargs.setdefault("strategy", "revise")  # these tests follow one strategy's calls one by one
    return solve(workspace / "test_slugger.py", workspace / "slugger.py", model=model,
                 db=workspace / "runs.db", **kwargs)


def test_converges_after_revisions_and_writes_target(workspace: Path) -> None:
    model = ScriptedModel([fenced(WRONG), fenced(PARTIAL), fenced(GOOD)])
    result = run(workspace, model)
    assert result.status is RunStatus.GREEN
    assert result.attempts == 3 and result.model_calls == 3
    assert (result.tests_passed, result.tests_total) == (4, 4)
    assert (workspace / "slugger.py").read_text() == GOOD
    # the revision request carries the previous code and what went wrong with it
    revision = model.calls[2][-1]["content"]
    assert "return \"-\".join(text.lower().split())" in revision or "return '-'.join(text.lower().split())" in revision
    assert "test_rejects_none" in revision


def test_feedback_names_failing_test_with_actual_and_expected(workspace: Path) -> None:
    model = ScriptedModel([fenced(WRONG), fenced(GOOD)])
    run(workspace, model)
    feedback = model.calls[1][-1]["content"]
    assert "test_basic" in feedback
    assert "slugify('Hello World') returned 'Hello World', expected 'hello-world'" in feedback


def test_stops_on_iteration_budget_and_keeps_best(workspace: Path) -> None:
    model = ScriptedModel([fenced(WRONG), fenced(PARTIAL), fenced(WRONG + "\n# again\nX = 1\n"), fenced(GOOD)])
    result = run(workspace, model, budget=Budget(max_calls=3))
    assert result.status is RunStatus.EXHAUSTED
    assert result.attempts == 3
    assert result.tests_passed == 3 and result.best_code is not None and "split" in result.best_code
    assert not (workspace / "slugger.py").exists(), "the target is untouched when not green"
    store = Store(workspace / "runs.db")
    row = store.find_run(result.run_id)
    assert row is not None and row["status"] == "exhausted"
    best = store.attempt(row["best_attempt"])
    assert best is not None and best["passed"] == 3


def test_write_best_writes_the_best_candidate_when_not_green(workspace: Path) -> None:
    model = ScriptedModel([fenced(PARTIAL), fenced(WRONG)])
    result = run(workspace, model, budget=Budget(max_calls=2), write_best=True)
    assert result.status is RunStatus.EXHAUSTED
    assert "split" in (workspace / "slugger.py").read_text()


def test_stops_on_time_budget(workspace: Path) -> None:
    model = ScriptedModel([fenced(WRONG)] * 1000)
    result = run(workspace, model, budget=Budget(max_calls=1000, max_seconds=0.5))
    assert result.status is RunStatus.EXHAUSTED
    assert "within 0.5s" in result.message
    assert result.attempts < 1000


def test_script_running_out_ends_the_run_not_green(workspace: Path) -> None:
    model = ScriptedModel([fenced(WRONG)])
    result = run(workspace, model)
    assert result.status is RunStatus.EXHAUSTED
    assert "ran out of responses after 1 calls" in result.message


def test_reply_without_code_gets_told_so(workspace: Path) -> None:
    model = ScriptedModel(["I think you should use a regular expression.", fenced(GOOD)])
    result = run(workspace, model)
    assert result.status is RunStatus.GREEN
    attempts = Store(workspace / "runs.db").attempts(result.run_id)
    assert attempts[0]["code"] is None and "no Python code" in attempts[0]["feedback"]


def test_duplicate_candidates_are_not_executed_again(workspace: Path) -> None:
    same = "def slugify(text):\n    return text\n"
    reformatted = "def slugify(text):\n\n    # comment\n    return (text)\n"
    model = ScriptedModel([fenced(same), fenced(reformatted), fenced(GOOD)])
    result = run(workspace, model)
    attempts = Store(workspace / "runs.db").attempts(result.run_id)
    assert [a["kind"] for a in attempts] == ["model", "duplicate", "model"]
    assert attempts[1]["exec_seconds"] == 0 and attempts[1]["passed"] == attempts[0]["passed"]


def test_every_attempt_is_recorded_with_prompt_response_outcome_and_usage(workspace: Path) -> None:
    model = ScriptedModel([fenced(WRONG), fenced(GOOD)])
    result = run(workspace, model)
    attempts = Store(workspace / "runs.db").attempts(result.run_id)
    assert len(attempts) == 2
    first = attempts[0]
    assert first["messages"][0]["role"] == "system" and "slugify" in first["messages"][-1]["content"]
    assert first["response"] == fenced(WRONG)
    assert first["outcome"]["tests"][0]["test_id"].endswith("test_basic")
    assert first["prompt_tokens"] > 0 and first["completion_tokens"] > 0
    assert attempts[1]["green"] is True


def test_calls_in_flight_default_to_what_the_model_declares(workspace: Path) -> None:
    # Three calls at once: the whole first round is fresh samples, before any feedback exists.
    model = ScriptedModel([fenced(WRONG), fenced(PARTIAL), fenced(WRONG + "\nX = 1\n")], max_parallel=3)
    result = run(workspace, model, budget=Budget(max_calls=3))
    assert result.model_calls == 3
    assert len({m[-1]["content"] for m in model.calls}) == 1, "all three asked the first question"
    row = Store(workspace / "runs.db").find_run(result.run_id)
    assert row is not None and json.loads(row["budget"])["parallel"] == 3


def test_parallel_overrides_the_declared_width(workspace: Path) -> None:
    # One at a time, the second call is already a revision of the first reply.
    model = ScriptedModel([fenced(WRONG), fenced(GOOD)], max_parallel=3)
    result = run(workspace, model, parallel=1)
    assert result.status is RunStatus.GREEN and result.model_calls == 2
    assert "test_basic" in model.calls[1][-1]["content"]


def test_strategies_fill_a_round_to_the_width(workspace: Path) -> None:
    from greenloop.loop.strategies import Attempt, ReviseStrategy, SampleStrategy, SingleStrategy
    from greenloop.loop.tree import TreeStrategy
    from greenloop.task import Task

    task = Task.from_files(workspace / "test_slugger.py", workspace / "slugger.py")
    assert len(ReviseStrategy().propose(SolveProblem(task), "tests", [], width=5)) == 5
    assert len(SampleStrategy(round_size=4).propose(SolveProblem(task), "tests", [], width=6)) == 6
    assert len(SampleStrategy(round_size=4).propose(SolveProblem(task), "tests", [], width=2)) == 4
    assert len(TreeStrategy(width=4).propose(SolveProblem(task), "tests", [], width=8)) == 8
    single = run(workspace, ScriptedModel([fenced(WRONG)] * 4, max_parallel=4), strategy=SingleStrategy.name)
    assert single.model_calls == 1, "pass@1 stays one call at any width"
    history = [Attempt(1, WRONG, None, "it failed")]
    kinds = [p.parent is None for p in ReviseStrategy().propose(SolveProblem(task), "tests", history, width=4)]
    assert kinds.count(True) == 2 and kinds.count(False) == 2, "revisions and fresh samples alternate"


def test_cost_is_zero_for_local_and_scripted_models_and_shows_in_json(workspace: Path) -> None:
    progress: list[float] = []
    result = run(workspace, ScriptedModel([fenced(GOOD)]), on_progress=lambda p: progress.append(p.cost))
    assert result.cost == 0.0 and progress == [0.0]
    data = result.to_json("slugger.py")
    assert data["cost"] == 0.0 and data["retries"] == 0


def test_the_engine_records_through_any_recorder(workspace: Path) -> None:
    """The engine knows the Recorder protocol, not SQLite: a run kept in memory is the same run."""
    task = Task.from_files(workspace / "test_slugger.py", workspace / "slugger.py")
    recorder = MemoryRecorder()
    with prepare_pool(task, Limits()) as pool:
        result = Engine(SolveProblem(task, pool), ScriptedModel([fenced(WRONG), fenced(GOOD)]), recorder,
                        ReviseStrategy(), Budget(max_calls=3)).run()
    assert result.status is RunStatus.GREEN
    assert recorder.runs[result.run_id]["status"] == "green"
    assert [a.passed for a in recorder.attempts[result.run_id]] == [0, 4]
    assert not (workspace / "runs.db").exists()


def test_parallel_is_part_of_the_bench_key_only_when_set() -> None:
    from greenloop.benchmarks.measure import BenchConfig

    plain, wide = BenchConfig(), BenchConfig(parallel=4)
    assert "parallel" not in json.loads(plain.key) and json.loads(wide.key)["parallel"] == 4
    with pytest.raises(BadInput, match="--parallel must be at least 1"):
        BenchConfig(parallel=0)


def test_green_in_the_warm_run_but_red_in_the_clean_one_is_an_attempt_not_the_end(workspace: Path) -> None:
    """The clean re-run's verdict is the attempt's (here it runs a test the warm pool lacks): the
    search goes on to a candidate both agree on, and the first is recorded as not green."""
    from greenloop.solver import fresh_runner

    visible = workspace / "visible" / "test_slugger.py"
    visible.parent.mkdir()
    visible.write_text(SLUG_TESTS.split("\n\ndef test_rejects_none")[0] + "\n")
    warm, clean = Task.from_files(visible, workspace / "slugger.py"), Task.from_files(
        workspace / "test_slugger.py", workspace / "slugger.py")
    store = Store(workspace / "runs.db")
    with prepare_pool(warm, Limits()) as pool:
        result = Engine(SolveProblem(warm, pool, fresh_runner(clean, Limits())),
                        ScriptedModel([fenced(PARTIAL), fenced(GOOD)]), store, ReviseStrategy(), Budget(3)).run()
    assert result.status is RunStatus.GREEN and result.calls_to_green == 2 and result.best_code == GOOD
    first, second = store.attempts(result.run_id)
    assert not first["green"] and first["feedback"].startswith("Passed in the warm run but failed the clean re-run")
    assert "test_rejects_none" in first["feedback"] and second["green"]
