"""`greenloop fix` on the one engine: strategies, `--set`, local repair of a repository's code.

Real git, real pytest, the real sandbox; only the model is scripted."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from greenloop.loop.repair import mutants
from greenloop.models.scripted import ScriptedModel
from greenloop.task import Budget
from test_repo_fix import (
    BUG,
    FIX_REPLY,
    PACKAGE,
    WRONG_REPLY,
    attempts_of,
    block,
    fix,
    git,
    make_repo,
    script,
    tree_state,
)

COMMENTED = {
    **PACKAGE,
    "src/shop/stats.py": (
        '"""Statistics for the shop."""\n\n\n'
        "def mean(values):\n"
        "    # the arithmetic mean; an empty list has none\n"
        "    if not values:\n"
        "        return 0.0\n"
        "    return sum(values) // len(values)  # keep this comment\n"
    ),
    "tests/test_stats.py": (
        "from shop.stats import mean\n\n\n"
        "def test_mean():\n    assert mean([1, 2]) == 1.5\n\n\n"
        "def test_empty():\n    assert mean([]) == 0.0\n"
    ),
}


def test_tree_fixes_a_wrong_operator_by_local_repair_with_a_one_line_diff(tmp_path: Path) -> None:
    """The failing assert is in the test, so the traceback never enters `mean`: repair finds it
    through the function the test calls, edits that one operator in place, and spends no model call."""
    repo = make_repo(tmp_path / "repo", COMMENTED)
    proc = fix(repo, script(tmp_path, "no idea"), "pytest", "tests/test_stats.py", extra=("--strategy", "tree"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "green" and result["green_kind"] == "repair" and result["model_calls"] == 0
    assert result["applied"] and result["changed_files"] == ["src/shop/stats.py"]
    text = (repo / "src/shop/stats.py").read_text()
    assert text == COMMENTED["src/shop/stats.py"].replace("sum(values) // len(values)", "sum(values) / len(values)")
    diff = git(repo, "diff", "--numstat")
    assert diff.split() == ["1", "1", "src/shop/stats.py"], "one line changed: comments and layout kept"
    attempts = attempts_of(tmp_path, result["run_id"])
    green = [a for a in attempts if a["green"]]
    assert attempts[0]["kind"] == "baseline" and len(green) == 1 and green[0]["kind"] == "repair"
    assert "local repair of attempt 0: src/shop/stats.py line 8" in str(green[0]["response"])
    assert all(a["kind"] in ("baseline", "repair") for a in attempts)


def test_repair_never_edits_the_tests(tmp_path: Path) -> None:
    """Mutating the test's assert would make it pass; the tests are protected, so repair must not."""
    tests = "from shop import total\n\n\ndef test_total():\n    assert total([1, 2, 3]) == 7\n"
    repo = make_repo(tmp_path / "repo", {**PACKAGE, "tests/test_cart.py": tests})
    before = tree_state(repo)
    proc = fix(repo, script(tmp_path, "no idea"), extra=("--strategy", "tree", "--max-calls", "1"))
    result = json.loads(proc.stdout)
    assert result["status"] != "green" and tree_state(repo) == before
    for attempt in attempts_of(tmp_path, result["run_id"]):
        assert "tests/test_cart.py" not in str(attempt["code"] or ""), attempt["response"]


def test_sample_strategy_and_parameters_reach_fix(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    proc = fix(repo, script(tmp_path, WRONG_REPLY, FIX_REPLY),
               extra=("--strategy", "sample", "--set", "round_size=1"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "green" and result["model_calls"] == 2 and result["applied"]
    attempts = attempts_of(tmp_path, result["run_id"])
    assert all(a["parent"] is None for a in attempts[1:]), "independent samples: none revises another"
    assert BUG not in (repo / "src/shop/cart.py").read_text()


def test_an_unknown_parameter_is_one_line_and_exit_2_before_anything_runs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    before = tree_state(repo)
    proc = fix(repo, script(tmp_path, FIX_REPLY), extra=("--strategy", "tree", "--set", "depth=3"), json_out=False)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "strategy 'tree' has no parameter 'depth'" in proc.stderr and "width" in proc.stderr
    assert tree_state(repo) == before and not (tmp_path / "runs.db").exists()


def test_in_place_mutants_change_only_the_edited_node() -> None:
    code = "def f(xs):\n    # first\n    return [x for x in xs if x > 1]  # trailing\n\n\n# end\n"
    found = mutants(code, focus_lines=frozenset({3}), in_place=True)
    assert found and all(m.line == 3 for m in found)
    for m in found:
        changed = [(a, b) for a, b in zip(code.splitlines(), m.code.splitlines(), strict=True) if a != b]
        assert len(changed) == 1 and changed[0][0].endswith("# trailing") and changed[0][1].endswith("# trailing")
    assert mutants(code, focus_lines=frozenset(), in_place=True) == [], "in place: only the lines given"


def test_the_default_strategy_follows_what_the_model_declares(tmp_path: Path) -> None:
    """`auto`: a small model (the stub-with-examples prompt style) gets `tree`, whose local repair fixes
    the operator with no model call; a capable one gets `revise`, which asks the model first."""
    from greenloop.repo import fix as fix_api

    for style, expected in (("examples", ("green", 0)), ("tests", ("exhausted", 1))):
        repo = make_repo(tmp_path / style, COMMENTED)
        result = fix_api(["pytest", "tests/test_stats.py"], cwd=repo, python=sys.executable, db=tmp_path / "runs.db",
                         model=ScriptedModel(["no idea"], prompt_style=style), budget=Budget(1, 120))
        assert (result.status.value, result.model_calls) == expected, (style, result.message)


def test_the_api_takes_a_home_relative_directory_and_names_a_missing_one(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from greenloop.errors import BadInput
    from greenloop.repo import fix as fix_api

    monkeypatch.setenv("HOME", str(tmp_path))
    repo = make_repo(tmp_path / "project", COMMENTED)
    result = fix_api(["pytest", "tests/test_stats.py"], cwd="~/project", db=tmp_path / "runs.db",
                     python=sys.executable, model=ScriptedModel(["no idea"], prompt_style="examples"))
    assert result.status.value == "green" and result.repo == str(repo.resolve())
    with pytest.raises(BadInput, match="no such directory: ~/elsewhere"):
        fix_api(["pytest"], cwd="~/elsewhere", model=ScriptedModel([]))


SKIPPING = {
    "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    "src/calc/__init__.py": "",
    "src/calc/core.py": "def double(x):\n    return x + 2\n",
    "tests/test_core.py": ("import pytest\nfrom calc import core\n\n\n"
                           "def test_double():\n    assert core.double(1) == 2\n\n\n"
                           "def test_triple():\n    if not hasattr(core, 'triple'):\n        pytest.skip('no triple yet')\n"
                           "    assert core.triple(1) == 3\n"),
}


def test_the_change_applied_is_the_one_the_clean_re_run_confirmed(tmp_path: Path) -> None:
    """A reply in flight behind the green one may pass more tests (a skipped one); it was never re-run
    clean, so it is recorded but neither reported nor applied."""
    from greenloop.repo import fix as fix_api

    repo = make_repo(tmp_path / "repo", SKIPPING)
    good = block("src/calc/core.py", "    return x + 2", "    return x * 2")
    later = block("src/calc/core.py", "    return x + 2", "    return x * 2\n\n\ndef triple(x):\n    return x * 3  # later")
    result = fix_api(["pytest", "-q", "tests/test_core.py"], cwd=repo, python=sys.executable, db=tmp_path / "runs.db",
                     model=ScriptedModel([good, later], max_parallel=2), parallel=2, strategy="revise",
                     budget=Budget(4, 120))
    assert result.status.value == "green" and result.calls_to_green == 1 and result.applied
    assert (repo / "src/calc/core.py").read_text() == "def double(x):\n    return x * 2\n"
    assert result.tests_passed == 1 and "triple" not in result.diff


def test_a_crash_inside_the_run_is_recorded_as_an_error_not_exhausted(tmp_path: Path) -> None:
    from greenloop.repo import fix as fix_api
    from greenloop.store import Store

    class Broken(ScriptedModel):
        def complete(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            raise ValueError("boom")

    repo = make_repo(tmp_path / "repo")
    with pytest.raises(ValueError, match="boom"):
        fix_api(["pytest", "tests"], cwd=repo, python=sys.executable, db=tmp_path / "runs.db",
                model=Broken(["unused"]), strategy="revise")
    [run] = Store(tmp_path / "runs.db").runs()
    assert (run["status"], run["message"]) == ("error", "greenloop failed: ValueError('boom')")


def test_replies_whose_turn_never_came_are_recorded(tmp_path: Path) -> None:
    """Out of time with replies queued behind a slow test command: each paid-for reply is an attempt."""
    from greenloop.repo import fix as fix_api
    from greenloop.store import Store

    files = dict(PACKAGE)
    files["tests/test_cart.py"] = "import time\n" + files["tests/test_cart.py"].replace(
        "def test_total():\n", "def test_total():\n    time.sleep(3)\n")
    repo = make_repo(tmp_path / "repo", files)
    replies = [block("src/shop/cart.py", BUG, f"    for i in range(len(prices) - {k}):") for k in range(2, 10)]
    result = fix_api(["pytest", "tests/test_cart.py"], cwd=repo, python=sys.executable, db=tmp_path / "runs.db",
                     model=ScriptedModel(replies, max_parallel=3), parallel=3, budget=Budget(30, 2.0),
                     strategy="sample")
    assert result.status.value == "exhausted" and result.model_calls > 1
    attempts = Store(tmp_path / "runs.db").attempts(result.run_id)
    assert len(attempts) == result.model_calls + 1 == result.attempts + 1  # the baseline is attempt 0
    assert any(a["feedback"] == "not run: the run ended before its turn" and a["response"] for a in attempts)


def test_in_place_mutants_keep_everything_but_the_edit() -> None:
    multi = ("def ok(a, b):\n    if (a > 0  # a must be positive\n            and b > 0):  # b too\n"
             "        return \"yes\"\n    return \"no\"\n")
    for m in mutants(multi, focus_lines=frozenset({2}), limit=60, in_place=True):
        assert m.code.count("\n") == multi.count("\n") and "# a must be positive" in m.code and "# b too" in m.code
        assert sum(x != y for x, y in zip(multi.splitlines(), m.code.splitlines(), strict=True)) == 1
    quoted = 'def label(n):\n    return "item" + str(n - 1)\n'
    found = mutants(quoted, focus_lines=frozenset({2}), limit=60, in_place=True)
    assert found and all('"item"' in m.code for m in found), "the user's quotes stay"
    assert any(m.code == 'def label(n):\n    return "item" + str(n + 1)\n' for m in found)
    for text in ("def f(x):\n    return x + 1", "def f(x):\r\n    return x + 1\r\n"):
        edit = next(m for m in mutants(text, focus_lines=frozenset({2}), in_place=True) if "x - 1" in m.code)
        assert edit.code == text.replace("x + 1", "x - 1"), "line endings and the last newline stay"


def test_workers_run_candidates_at_once_each_in_its_own_copy(tmp_path: Path) -> None:
    """Three slow test runs overlap, and each attempt is judged on its own change (copies never mix)."""
    from greenloop.repo import fix as fix_api
    from greenloop.store import Store

    files = dict(PACKAGE)
    files["tests/test_cart.py"] = "import time\n" + files["tests/test_cart.py"].replace(
        "def test_total():\n", "def test_total():\n    time.sleep(2)\n")
    repo = make_repo(tmp_path / "repo", files)
    half = block("src/shop/cart.py", BUG, "    for i in range(len(prices) - 1):\n        subtotal += 0\n"
                 "    subtotal = sum(prices) if len(prices) == 2 else subtotal\n    for i in range(0):")
    result = fix_api(["pytest", "tests/test_cart.py"], cwd=repo, python=sys.executable, db=tmp_path / "runs.db",
                     model=ScriptedModel([WRONG_REPLY, half, FIX_REPLY], max_parallel=3), parallel=3, workers=3,
                     strategy="sample", budget=Budget(3, 120))
    assert result.status.value == "green" and result.applied and BUG not in (repo / "src/shop/cart.py").read_text()
    attempts = Store(tmp_path / "runs.db").attempts(result.run_id)
    by_reply = {a["response"]: a["passed"] for a in attempts[1:]}
    assert by_reply == {WRONG_REPLY: 0, half: 1, FIX_REPLY: 2}, "each change was judged in its own copy"
    # One after the other, the run would take the three runs plus the clean re-run (2 s or more).
    runs = sum(a["exec_seconds"] for a in attempts[1:])
    assert runs >= 6 and result.seconds < runs + 2, "the three runs overlapped"


def test_the_project_config_chooses_fixs_strategy(tmp_path: Path) -> None:
    files = {**COMMENTED, "pyproject.toml": COMMENTED["pyproject.toml"]
             + '\n[tool.greenloop]\nstrategy = "tree"\nworkers = 2\n\n[tool.greenloop.strategies.tree]\nwidth = 2\n'}
    repo = make_repo(tmp_path / "repo", files)
    proc = fix(repo, script(tmp_path, "no idea"), "pytest", "tests/test_stats.py")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["green_kind"] == "repair" and result["model_calls"] == 0, "tree, from the project's config"
    with sqlite3.connect(tmp_path / "runs.db") as db:
        [strategy] = db.execute("SELECT strategy FROM runs WHERE id = ?", (result["run_id"],)).fetchone()
    assert strategy == "tree"
    # `auto` is fix's own choice: a project may name it; `solve` has no such strategy.
    auto = make_repo(tmp_path / "auto", {**files, "pyproject.toml": '[tool.greenloop]\nstrategy = "auto"\n'})
    assert "names no strategy" not in fix(auto, script(tmp_path, "no idea"), "pytest", "tests/test_stats.py").stderr
