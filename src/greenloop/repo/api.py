"""The Python API behind `greenloop fix`: validate the input up front, then run the loop.

Everything that can be wrong with the input (not a git repository, no command, a file that is not
there, a command pytest rejects) raises `RepoError` before the run store is opened or anything
is written.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from greenloop.execute import Limits
from greenloop.loop.engine import Engine
from greenloop.loop.result import Progress, Result, RunStatus
from greenloop.loop.strategies import STRATEGIES
from greenloop.models import Model, capabilities_of, load_model
from greenloop.repo.apply import apply_green
from greenloop.repo.command import CommandError, TestCommand
from greenloop.repo.interpreter import Interpreter, detect
from greenloop.repo.options import FixOptions
from greenloop.repo.policy import secret_like
from greenloop.repo.problem import Change, RepoProblem
from greenloop.repo.sandboxed import find_program
from greenloop.repo.workspace import GitError, RepoError, RepoInfo, discover
from greenloop.store import Store
from greenloop.task import Budget

# `auto`: `tree` for a model that declares the small-model prompt style, `revise` otherwise. Measured
# on benchmarks/repo_fix.py (docs/benchmarks.md): the embedded model fixed 5/6 with tree (5 by
# local repair, no model call) and 2/6 with revise; a model that writes the right fix fixed 6/6 either
# way, and revise took 0.21x the time, since local repair runs the tests before each model call.
DEFAULT_STRATEGY = "auto"
USAGE = "give the test command after --, e.g. greenloop fix -- pytest -x tests/test_parser.py"


def _repo_file(info: RepoInfo, name: str) -> str:
    """A --files entry as a repository-relative path; raises RepoError when it is not a file there."""
    path = Path(name) if Path(name).is_absolute() else info.root / info.cwd / name
    try:
        rel = path.resolve().relative_to(info.root).as_posix()
    except ValueError:
        raise RepoError(f"--files: {name} is outside the repository {info.root}") from None
    if not (info.root / rel).is_file():
        raise RepoError(f"--files: no such file in the repository: {name}")
    if secret_like(rel):
        raise RepoError(f"--files: {name} looks like it holds secrets; greenloop never shows such files to a model")
    return posixpath.normpath(rel)


def parse_env(items: Sequence[str], host: dict[str, str] | None = None) -> dict[str, str]:
    """`--env NAME=VALUE` or `--env NAME` (its value here) as a dict; raises RepoError for bad ones."""
    host = dict(os.environ if host is None else host)
    env: dict[str, str] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise RepoError(f"--env: {item!r} is not NAME or NAME=VALUE")
        if not eq:
            if name not in host:
                raise RepoError(f"--env {name}: {name} is not set here; give a value with --env {name}=VALUE")
            value = host[name]
        env[name] = value
    return env


def _check_program(program: str, info: RepoInfo, interpreter: Interpreter) -> None:
    where = info.root / info.cwd
    if not find_program(program, where, interpreter.bin_dir):
        raise RepoError(f"command not found: {program} (looked in {interpreter.bin_dir}, the system PATH and the "
                        f"repository); the tests run with {interpreter.describe()}: install it there, or choose "
                        "another interpreter with --python PATH")
    if "/" in program:
        path = where / program if not os.path.isabs(program) else Path(program)
        if path.is_file() and not os.access(path, os.X_OK):
            raise RepoError(f"{program} is not executable: chmod +x {program}, or run it through its interpreter")


def fix(
    command: Sequence[str], *, cwd: str | Path | None = None, files: Sequence[str] = (),
    model: str | Model = "local", base_url: str | None = None, budget: Budget | None = None,
    db: str | Path | None = None, commit: bool = False, limits: Limits | None = None, seed: int = 0,
    edit_format: Literal["auto", "diff", "whole"] = "auto", context_tokens: int | None = None,
    on_progress: Callable[[Progress], None] | None = None, python: str | None = None,
    env: Sequence[str] = (), allow: Sequence[str] = (), message: str = "", dry_run: bool = False,
    confirm: Callable[[str], bool] | None = None, on_start: Callable[[str], None] | None = None,
    strategy: str = DEFAULT_STRATEGY, strategy_params: Mapping[str, Any] | None = None, parallel: int | None = None,
    workers: int = 1,
) -> Result:
    """Edit the git repository at `cwd` until `command` passes. Raises RepoError / ModelError for bad input.
    `on_start` hears which interpreter will run the tests, before anything runs."""
    if not command or not command[0]:
        raise RepoError(USAGE)
    if parallel is not None and parallel < 1:
        raise RepoError("--parallel must be at least 1")
    if workers < 1:
        raise RepoError("--workers must be at least 1")
    if strategy != "auto":
        STRATEGIES.create(strategy, strategy_params)  # an unknown name or parameter fails before anything runs
    info = discover(cwd)
    test_command = TestCommand(tuple(command))
    interpreter = detect(info.root, python)
    _check_program(test_command.argv[0], info, interpreter)
    if edit_format not in ("auto", "diff", "whole"):
        raise RepoError(f"unknown edit format {edit_format!r}; choose auto, diff or whole")
    if context_tokens is not None and context_tokens < 200:
        raise RepoError("--context-tokens must be at least 200")
    options = FixOptions(
        files=tuple(dict.fromkeys(_repo_file(info, f) for f in files)),
        budget=budget or Budget(30, 900.0), seed=seed, edit_format=edit_format,
        context_tokens=context_tokens, commit=commit, env=parse_env(env), allow=tuple(allow), message=message,
        dry_run=dry_run, confirm=confirm, workers=workers, **({"limits": limits} if limits else {}),
    )
    the_model = load_model(model, base_url=base_url) if isinstance(model, str) else model
    the_model.check()
    if strategy == "auto":
        strategy = "tree" if capabilities_of(the_model).prompt_style == "examples" else "revise"
    the_strategy = STRATEGIES.create(strategy, strategy_params)
    problem = RepoProblem(info, test_command, the_model, options, interpreter)
    try:
        try:
            problem.prepare()
        except CommandError as exc:
            raise RepoError(str(exc)) from None
        store = Store(db)
        try:
            engine = Engine(problem, the_model, store, the_strategy, options.budget, on_progress=on_progress,
                            seed=seed, model_parallel=parallel, workers=options.workers)
            result = engine.run()
            _finish(problem, result, store)
            return result
        finally:
            store.close()
    finally:
        problem.close()


def _finish(problem: RepoProblem, result: Result, store: Store) -> None:
    """Say where the run happened and what its best change touches; apply a verified green."""
    result.repo, result.command = str(problem.info.root), problem.command.display()
    change = result.best_candidate
    if isinstance(change, Change):
        result.changed_files = sorted(change.edits)
    if result.status is RunStatus.GREEN and isinstance(change, Change) and change.edits:
        status, message = result.status, result.message
        try:
            apply_green(problem, result, dict(change.edits), result.diff)
        except (GitError, OSError) as exc:  # refused before writing (a path that leaves the tree), or git failed
            result.status, result.message, result.applied = RunStatus.ERROR, str(exc), False
        if (result.status, result.message) != (status, message):
            store.update_run(result.run_id, status=result.status.value, message=result.message)
