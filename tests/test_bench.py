"""`greenloop bench`: HumanEval as tasks, the runner, resuming, and the command line."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greenloop.benchmarks.humaneval import Problem, load_problems, select
from greenloop.benchmarks.measure import BenchConfig, run_bench, summary
from greenloop.execute import Limits, TestSuite, WorkerPool
from greenloop.models.scripted import ScriptedModel
from greenloop.store import Store
from greenloop.task import TaskError

PROBLEMS = load_problems()
TOY = Problem(
    "Toy/0",
    'import math\n\n\ndef helper(x):\n    return x * 2\n\n\ndef double(n):\n    """Twice n.\n    >>> double(2)\n    4\n'
    '    >>> double(3)\n    7\n    double(5) ➞ 10\n    """\n',
    "double", "    return helper(n)\n",
    "def check(candidate):\n    import math\n    base = 10\n    assert candidate(1) == 2\n    assert True\n"
    "    assert candidate(base) == helper(base)\n    for i in range(3):\n        assert candidate(i) == 2 * i\n",
)


def greenloop(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "greenloop", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_check_becomes_one_test_per_assertion_with_setup_repeated() -> None:
    tree = ast.parse(TOY.full_tests())
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert [t.name for t in tests] == ["test_01", "test_02", "test_03"]  # `assert True` is no test
    assert ast.unparse(tests[1]) == ("def test_02():\n    import math\n    base = 10\n"
                                     "    assert double(base) == helper(base)")
    assert isinstance(tests[2].body[-1], ast.For)  # a loop of assertions is one test
    source = TOY.full_tests()
    assert "from solution import double\n" in source and "import math\n" in source
    assert "def helper(x):\n    return x * 2" in source, "the tests carry their own copy of the prompt's helper"


def test_partial_credit_on_a_real_problem() -> None:
    problem = PROBLEMS[0]
    with WorkerPool(TestSuite(problem.full_tests(), "test_solution.py", "solution"), Limits()) as pool:
        assert len(pool.expected_ids()) == 7
        always_true = pool.run("def has_close_elements(numbers, threshold):\n    return True\n")
        reference = pool.run(problem.reference)
    assert (always_true.passed, always_true.total) == (4, 7)
    assert reference.green
    failing = next(t for t in always_true.tests if t.status.value == "failed")
    assert failing.expression.startswith("has_close_elements(") and failing.actual == "True"


def test_visible_tests_are_the_docstring_examples_the_reference_agrees_with() -> None:
    assert TOY.examples() == ["assert double(2) == 4", "assert double(5) == 10"]  # `double(3) -> 7` is wrong
    assert PROBLEMS[2].examples() == ["assert truncate_number(3.5) == pytest.approx(0.5)"]
    assert "assert round(find_zero([1, 2]), 2) == pytest.approx(-0.5)" in PROBLEMS[32].examples()
    assert PROBLEMS[94].examples()[0].startswith("assert skjkasdkd(lst=[0, 3, 2")  # "For lst = ... the output should be"
    # no usable example: the first hidden assertion is the one visible test
    assert PROBLEMS[38].examples() == [] and "decode_cyclic(encoded_str) == str" in PROBLEMS[38].visible_tests()


def test_problem_selection_and_its_errors() -> None:
    assert [p.index for p in select(PROBLEMS, "0-2,10", None)] == [0, 1, 2, 10]
    assert [p.index for p in select(PROBLEMS, None, 3)] == [0, 1, 2]
    for bad in ("5-2", "0-164", "x", "1-"):
        with pytest.raises(TaskError, match="--problems"):
            select(PROBLEMS, bad, None)
    with pytest.raises(TaskError, match="--limit"):
        select(PROBLEMS, None, 0)


def fenced(code: str) -> str:
    return f"```python\n{code}\n```\n"


def test_visible_mode_judges_by_the_hidden_tests_and_reports_agreement(tmp_path: Path) -> None:
    # truncate_number: `return 0.5` passes the docstring's one example and fails the hidden tests
    model = ScriptedModel([fenced("def truncate_number(number):\n    return 0.5\n"), fenced(PROBLEMS[3].reference)],
                          prompt_style="examples")
    config = BenchConfig(strategy="single", tests="visible", model="scripted")
    run = run_bench(config, [PROBLEMS[2], PROBLEMS[3]], db=tmp_path / "runs.db", model=model)
    data = summary(run)
    assert [(r.loop_green, r.solved) for r in run.results] == [(True, False), (True, True)]
    assert data["loop_green"] == 2 and data["solved"] == 1 and data["hidden_agreement"] == 0.5
    assert data["per_problem"][0]["tests"] == "1/3"  # the hidden tests include the example
    assert "truncate_number(3.5)" in model.calls[0][-1]["content"], "the prompt is the problem's stub"


def test_runs_resume_and_each_problem_is_a_run_in_the_store(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    model = ScriptedModel([fenced(PROBLEMS[0].reference), fenced("def below_zero(operations):\n    return False\n")],
                          prompt_style="examples")
    config = BenchConfig(strategy="single", model="scripted")
    first = run_bench(config, [PROBLEMS[0], PROBLEMS[3]], db=db, model=model)
    assert [r.solved for r in first.results] == [True, False] and first.skipped == 0
    again = ScriptedModel([fenced(PROBLEMS[4].reference)], prompt_style="examples")
    left: list[int] = []
    second = run_bench(config, [PROBLEMS[0], PROBLEMS[3], PROBLEMS[4]], db=db, model=again, on_start=left.append)
    assert second.skipped == 2 and len(again.calls) == 1, "finished problems are not run again"
    assert left == [1], "the progress display hears how many problems are left, not how many were asked for"
    assert second.bench_id == first.bench_id and [r.solved for r in second.results] == [True, False, True]
    store = Store(db)
    run = store.find_run(second.results[1].run_id)
    assert run is not None and run["kind"] == "bench" and run["model_calls"] == 1
    assert store.attempts(run["id"])[0]["passed"] >= 1
    fresh = run_bench(config, [PROBLEMS[0]], db=db, model=ScriptedModel([fenced("x = 1")]), fresh=True)
    assert fresh.bench_id != first.bench_id and fresh.skipped == 0


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args, needle in [
        (["bench", "mbpp"], "unknown benchmark"),
        (["bench", "humaneval", "--strategy", "beam"], "unknown strategy"),
        (["bench", "humaneval", "--tests", "hidden"], "--tests must be visible or full"),
        (["bench", "humaneval", "--problems", "0-500"], "outside 0-163"),
        (["bench", "humaneval", "--max-calls", "0"], "--max-calls"),
        (["bench", "humaneval", "--model", "nope"], "unknown model spec"),
    ]:
        proc = greenloop(*args, "--db", "runs.db", cwd=tmp_path)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("greenloop: "), (args, proc.stderr)
        assert needle in lines[0]


def test_canonical_solutions_score_164_of_164(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = greenloop("bench", "humaneval", "--model", "canonical", "--strategy", "single", "--jobs", "2",
                     "--json", "--out", "out.json", "--db", "runs.db", cwd=tmp_path, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert json.loads((tmp_path / "out.json").read_text()) == data
    assert (data["problems"], data["solved"], data["pass_rate"]) == (164, 164, 1.0)
    assert data["model_calls"] == 164 and data["median_calls_to_green"] == 1.0 and data["model_seconds"] == 0
    assert {"strategy", "model", "seconds", "per_problem"} <= set(data)
    assert set(data["per_problem"][0]) >= {"id", "solved", "calls", "seconds"}
    print(f"canonical HumanEval: {time.monotonic() - started:.1f}s")  # harness overhead, shown with -s


def test_a_problem_is_a_function_of_problem_and_config_into_any_recorder() -> None:
    """No run store needed: the records land in the recorder given (here in memory), ready to ship."""
    from greenloop.benchmarks.measure import ReplayModel, solve_problem
    from greenloop.loop.recording import MemoryRecorder

    problem = select(PROBLEMS, "2", None)[0]
    recorder = MemoryRecorder()
    result = solve_problem(problem, BenchConfig(model="canonical", max_calls=2), ReplayModel(problem.reference),
                           recorder)
    assert result.solved and result.calls_to_green == 1
    assert recorder.runs[result.run_id]["kind"] == "bench" and recorder.runs[result.run_id]["status"] == "green"
    attempt = recorder.attempts[result.run_id][0]
    assert attempt.green and attempt.code is not None and problem.reference.strip() in attempt.code
