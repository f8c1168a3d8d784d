"""Registries and the error hierarchy: strategies built with checked parameters, bad input named,
bugs reported as bugs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenloop.benchmarks.measure import BenchConfig
from greenloop.cli import main
from greenloop.errors import EXIT_BAD_INPUT, EXIT_BUG, BadInput, GreenloopError, SandboxFailure, exit_code
from greenloop.execute import ExecutorError
from greenloop.loop.strategies import STRATEGIES
from greenloop.loop.tree import TreeStrategy
from greenloop.models import ModelError
from greenloop.registry import Registry, parse_settings
from greenloop.store import StoreError
from greenloop.task import TaskError


def test_builtin_strategies_are_registered() -> None:
    assert {"revise", "sample", "single", "tree"} <= set(STRATEGIES.names())


def test_strategy_parameters_are_converted_to_the_declared_types() -> None:
    tree = STRATEGIES.create("tree", {"width": "7", "close": "0.25"})
    assert isinstance(tree, TreeStrategy)
    assert (tree.width, tree.close) == (7, 0.25)


def test_unknown_strategy_parameter_names_the_valid_ones() -> None:
    with pytest.raises(BadInput, match="no parameter 'widht'.*width"):
        STRATEGIES.create("tree", {"widht": "4"})


def test_badly_typed_parameter_is_bad_input() -> None:
    with pytest.raises(BadInput, match="width must be int, not 'four'"):
        STRATEGIES.create("tree", {"width": "four"})


def test_unknown_strategy_lists_the_known_ones() -> None:
    with pytest.raises(BadInput, match="unknown strategy 'best'.*revise.*tree"):
        STRATEGIES.create("best")


def test_lazy_factories_resolve_on_first_use() -> None:
    registry: Registry[object] = Registry("greenloop.nonexistent-group", "thing")
    registry.register("path", "pathlib:PurePosixPath")
    assert str(registry.create("path")) == "."
    assert registry.names() == ["path"]


def test_settings_need_key_and_value() -> None:
    assert parse_settings(["width=4", " close = 0.5 "]) == {"width": "4", "close": "0.5"}
    with pytest.raises(BadInput, match="KEY=VALUE"):
        parse_settings(["width"])


def test_bench_key_includes_strategy_parameters() -> None:
    plain = BenchConfig(strategy="tree")
    wide = BenchConfig(strategy="tree", strategy_params=(("width", "8"),))
    assert plain.key != wide.key
    assert "strategy_params" not in json.loads(plain.key)  # benches recorded before parameters still resume
    with pytest.raises(BadInput):
        BenchConfig(strategy="tree", strategy_params=(("nope", "1"),))


def test_error_classes_map_to_exit_codes() -> None:
    for error in (TaskError("x"), ModelError("x"), StoreError("x"), BadInput("x")):
        assert exit_code(error) == EXIT_BAD_INPUT
    assert exit_code(ExecutorError("x")) == 3
    assert isinstance(ExecutorError("x"), SandboxFailure)
    assert exit_code(RuntimeError("x")) == EXIT_BUG
    assert exit_code(KeyError("x")) == EXIT_BUG
    assert not isinstance(RuntimeError("x"), GreenloopError)


def test_cli_unknown_strategy_parameter_is_exit_2(workspace: Path, script, capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    code = main(["solve", "--tests", str(workspace / "test_slugger.py"), "--target", str(workspace / "slugger.py"),
                 "--model", script("nothing"), "--strategy", "tree", "--set", "depth=3",
                 "--db", str(tmp_path / "runs.db")])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["greenloop: strategy 'tree' has no parameter 'depth'; its parameters are: width, close, "
                   "max_revisions, examples, mutants_per_node, max_repairs, fresh_temperature, revise_temperature"]
    assert not (workspace / "slugger.py").exists()


class _BrokenStrategy:
    """A strategy with a bug: what greenloop must report as a bug, not as a sandbox failure."""

    name = "broken"

    def propose(self, task: object, style: object, history: object) -> list[object]:
        return [1 / 0]


def test_cli_reports_a_bug_as_a_bug(workspace: Path, script, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception exits 70 with one line naming a log file that holds the traceback."""
    monkeypatch.setenv("GREENLOOP_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setitem(STRATEGIES._factories, "broken", _BrokenStrategy)
    code = main(["solve", "--tests", str(workspace / "test_slugger.py"), "--target", str(workspace / "slugger.py"),
                 "--model", script("nothing"), "--strategy", "broken", "--db", str(tmp_path / "runs.db")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BUG
    logs = list((tmp_path / "logs").glob("bug-*.log"))
    assert len(logs) == 1 and "ZeroDivisionError" in logs[0].read_text()
    assert err == [f"greenloop: internal error (a bug in greenloop, please report it): ZeroDivisionError: "
                   f"division by zero; the traceback is in {logs[0]}"]
    assert not (workspace / "slugger.py").exists()
