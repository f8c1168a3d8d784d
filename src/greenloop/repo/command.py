"""The user's test command: what it collects, how it is run, and what its run means as an Outcome.

For pytest (`pytest ...`, `py.test ...`, `python -m pytest ...`, `.venv/bin/pytest ...`) greenloop
loads its report plugin (`-p NAME`, a random name per run), which streams signed per-test records over a pipe
(`results.py`); `python -m unittest ...` runs through the same channel (`unittest_hook.py`). The
tests are collected once first, so the total is fixed and the test files are known. Any other
command is one test: its exit status, with the tail of its output as the feedback.
"""

from __future__ import annotations

import os
import secrets
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

from greenloop.execute import Outcome, TestResult, TestStatus
from greenloop.repo.results import Channel, group, judge
from greenloop.repo.sandboxed import CommandRun, Runner
from greenloop.repo.traces import trim_traceback

PLUGIN = "_greenloop_report"  # the names without a plugin directory; installed, each run's are random
UNITTEST = "_greenloop_unittest"
_NAMES = "names"


def install_plugin(directory: Path) -> tuple[str, str]:
    """Put the standalone report plugin and unittest runner where the project's interpreter imports
    them, under random module names (code under test cannot import what it cannot name); returns
    (plugin, runner)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("_gl*.py"):
        old.unlink()
    token = secrets.token_hex(8)
    names = (f"_gl{token}", f"_gl{token}_u")
    for source, name in (("report_plugin.py", names[0]), ("unittest_hook.py", names[1])):
        text = resources.files("greenloop.repo").joinpath(source).read_text(encoding="utf-8")
        (directory / f"{name}.py").write_text(text.replace(PLUGIN, names[0]), encoding="utf-8")
    (directory / _NAMES).write_text(" ".join(names), encoding="utf-8")
    return names


def plugin_names(runner: Runner) -> tuple[str, str]:
    """The (plugin, runner) module names installed in the runner's plugin directory."""
    if runner.plugin_dir is not None and (runner.plugin_dir / _NAMES).is_file():
        plugin, unittest = (runner.plugin_dir / _NAMES).read_text(encoding="utf-8").split()
        return plugin, unittest
    return PLUGIN, UNITTEST


@dataclass(frozen=True)
class TestCommand:
    __test__ = False
    argv: tuple[str, ...]

    @property
    def pytest_at(self) -> int | None:
        """Where pytest's own arguments start in argv, or None when this is not pytest."""
        name = PurePosixPath(self.argv[0]).name
        if name in ("pytest", "py.test"):
            return 1
        return self._module_at("pytest")

    def _module_at(self, module: str) -> int | None:
        """Where the arguments of `python [FLAGS] -m MODULE ...` start, or None: interpreter flags
        (`-X dev`, `-W error`, `-B`) before `-m` do not make pytest an exit-status-only command."""
        if not PurePosixPath(self.argv[0]).name.startswith("python"):
            return None
        i = 1
        while i < len(self.argv) and self.argv[i].startswith("-") and self.argv[i] != "-m":
            if self.argv[i] in ("-c", "-"):
                return None  # a program of its own, not a module
            i += 2 if self.argv[i] in ("-X", "-W", "--check-hash-based-pycs") else 1
        if self.argv[i:i + 2] == ("-m", module):
            return i + 2
        return None

    @property
    def is_pytest(self) -> bool:
        return self.pytest_at is not None

    @property
    def is_unittest(self) -> bool:
        return self._module_at("unittest") is not None

    @property
    def per_test(self) -> bool:
        return self.is_pytest or self.is_unittest

    def display(self) -> str:
        return shlex.join(self.argv)

    def run_argv(self, names: tuple[str, str] = (PLUGIN, UNITTEST)) -> list[str]:
        if self.is_unittest:
            start = self._module_at("unittest") or 3
            return [*self.argv[:start - 1], names[1], *self.argv[start:]]
        at = self.pytest_at
        if at is None:
            return list(self.argv)
        # --tb=short goes first so the user's own --tb wins.
        return [*self.argv[:at], "-p", names[0], "--tb=short", *self.argv[at:]]

    def collect_argv(self, names: tuple[str, str] = (PLUGIN, UNITTEST)) -> list[str]:
        if self.is_unittest:
            return self.run_argv(names)
        return [*self.run_argv(names), "--collect-only", "-q", "--continue-on-collection-errors"]

    def path_args(self) -> list[str]:
        """Arguments that may name files or directories (test paths, scripts)."""
        return [a.split("::")[0] for a in self.argv[1:] if not a.startswith("-")]


@dataclass
class Collection:
    ids: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # repository-relative
    errors: list[str] = field(default_factory=list)
    skipped: set[str] | None = None  # skipped or xfailed at the baseline; None until it ran
    opened: list[str] = field(default_factory=list)  # repository-relative files the tests opened at the baseline


class CommandError(Exception):
    """The command cannot be used as a test command (pytest rejected its arguments, no tests)."""


def relative(path: str, roots: tuple[Path, ...]) -> str | None:
    p = Path(path)
    for base in roots:
        try:
            rel = p.relative_to(base).as_posix()
        except ValueError:
            continue
        return rel if rel != "." else ""
    return None


def usage_error(output: str) -> str:
    """pytest's own words for a command it rejects: `error: unrecognized arguments: ...`,
    `ERROR: file or directory not found: ...`."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "file or directory not found" in line or "not found:" in line:
            return line.removeprefix("ERROR: ")
    for line in reversed(lines):
        if "error:" in line.lower():
            return line.removeprefix("ERROR: ")
    return last_line(output)


def last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip() and not set(line.strip()) <= set("=!-_ ")]
    return lines[-1][:300] if lines else "no output"


def _collection(command: TestCommand, runner: Runner, copy: Path, run: CommandRun, channel: Channel) -> Collection:
    """What the run collected (its first record); raises CommandError for a command pytest rejects or
    one that collects nothing."""
    if run.infrastructure:
        raise RuntimeError(f"the sandbox failed: {run.infrastructure}")
    report = group(channel.records)
    if command.is_pytest and run.exit_code == 4 or report.collected is None and run.exit_code == 2:
        raise CommandError(f"pytest rejected `{command.display()}`: {usage_error(run.output)}")
    if report.collected is None and run.timed_out:
        raise CommandError(f"collecting the tests took longer than {runner.limits.timeout:g}s; raise --timeout")
    if report.collected is None or channel.problem:
        raise CommandError(f"`{command.display()}` did not run {'pytest' if command.is_pytest else 'unittest'}'s "
                           f"collection (exit status {run.exit_code}): {last_line(run.output)}")
    roots = (runner.root, copy)
    rootdir = Path(report.rootdir or runner.root)
    files = {relative(f, roots) for f in report.files}
    files.update(relative(str(rootdir / e.split("::")[0]), roots) for e in report.collect_errors)
    collection = Collection(ids=list(report.collected), errors=list(report.collect_errors),
                            files=sorted(f for f in files if f))
    if command.is_unittest:
        failed = "unittest.loader._FailedTest."
        collection.errors = [i[len(failed):] for i in collection.ids if i.startswith(failed)]
        collection.ids = [i for i in collection.ids if not i.startswith(failed)]
    if not collection.ids and not collection.errors:
        raise CommandError(f"`{command.display()}` collects no tests")
    return collection


def collect(command: TestCommand, runner: Runner, copy: Path) -> Collection:
    """The tests the command runs, collected in the sandbox without running them; raises
    CommandError for a bad command."""
    if not command.per_test:
        return Collection(ids=[command.display()])
    channel = Channel()
    env = {"GREENLOOP_COLLECT": "1"} if command.is_unittest else {}
    return _collection(command, runner, copy, runner.run(command.collect_argv(plugin_names(runner)), copy, env, channel), channel)


def baseline(command: TestCommand, runner: Runner, copy: Path) -> tuple[Collection, Outcome]:
    """The first run, which both collects (the total a run with `-x` cannot shrink, the test files)
    and gives the baseline outcome: one run of the command, not two."""
    if not command.per_test:
        collection = Collection(ids=[command.display()])
        return collection, execute(command, runner, copy, collection)
    channel = Channel()
    run = runner.run(command.run_argv(plugin_names(runner)), copy, {"GREENLOOP_AUDIT": "1"}, channel)
    collection = _collection(command, runner, copy, run, channel)
    return collection, _outcome(command, runner, copy, collection, run, channel, baseline=True)


def execute(command: TestCommand, runner: Runner, copy: Path, collection: Collection, *,
            baseline: bool = False, watch: Iterable[str] = ()) -> Outcome:
    """Run the command once in `copy` and turn what happened into an Outcome. `watch`: the files
    the candidate changes that are not code; a run whose tests open one of them is not green."""
    if not command.per_test:
        run = runner.run(command.run_argv(), copy)
        if run.infrastructure:
            return Outcome((), run.seconds, run.infrastructure, infrastructure=True, output=run.output[-2000:])
        return _plain_outcome(command, run)
    channel = Channel()
    before = conftests(copy)
    run = runner.run(command.run_argv(plugin_names(runner)), copy, {"GREENLOOP_AUDIT": "1"}, channel)
    outcome = _outcome(command, runner, copy, collection, run, channel, baseline=baseline, watch=watch)
    created = sorted(conftests(copy) - before)
    if created and not outcome.problem and not outcome.infrastructure:
        # pytest loads a conftest when it reaches its directory: one the code under test wrote during
        # the run (behind a symlink, beside a read-only test file) could rewrite any later result.
        return Outcome(outcome.tests, outcome.seconds, f"the run created {', '.join(created[:5])}: code under test "
                       "may not add to the test configuration", output=outcome.output)
    return outcome


def conftests(copy: Path) -> set[str]:
    """Every conftest.py in the copy (relative paths), symlinks not followed."""
    found: set[str] = set()
    for top, dirs, names in os.walk(copy):
        dirs[:] = [d for d in dirs if d != ".git"]
        if "conftest.py" in names:
            found.add(os.path.relpath(os.path.join(top, "conftest.py"), copy))
    return found


def _outcome(command: TestCommand, runner: Runner, copy: Path, collection: Collection, run: CommandRun,
             channel: Channel, *, baseline: bool, watch: Iterable[str] = ()) -> Outcome:
    if run.infrastructure:
        return Outcome((), run.seconds, run.infrastructure, infrastructure=True, output=run.output[-2000:])
    report = group(channel.records)
    tail = "\n".join(run.output.strip().splitlines()[-15:])
    outcome = judge(report, collection.ids, None if baseline else collection.skipped, exit_code=run.exit_code,
                    timed_out=run.timed_out, timeout=runner.limits.timeout, channel_problem=run.problem or channel.problem,
                    output=tail, errors=tuple(collection.errors))
    roots = (str(runner.root), str(copy))
    tests = tuple(TestResult(t.test_id, t.status, t.message, trim_traceback(t.traceback, roots), duration=t.duration)
                  for t in outcome.tests)
    opened = {relative(p, (runner.root, copy)) for p in report.opened}
    if baseline:
        collection.skipped = {t.test_id for t in tests if t.status is TestStatus.SKIPPED}
        collection.opened = sorted(p for p in opened if p and not p.endswith((".py", ".pyc")))
    problem = outcome.problem
    read = sorted(p for p in watch if p in opened)
    if read and not problem:
        # Expected values the baseline never reached (it crashed first) are still test data.
        problem = (f"the test run read {', '.join(read)}, which this change edits: what the tests read is test data, "
                   "not code to fix (change the code under test, or run greenloop with --allow PATH)")
    return Outcome(tests, run.seconds, problem, output=tail)


def _plain_outcome(command: TestCommand, run: CommandRun) -> Outcome:
    tail = "\n".join(run.output.strip().splitlines()[-30:])[-3000:]
    if run.timed_out:
        status, message = TestStatus.TIMEOUT, "timed out"
    elif run.problem:
        status, message = TestStatus.FAILED, run.problem
    elif run.exit_code == 0:
        status, message = TestStatus.PASSED, ""
    else:
        status, message = TestStatus.FAILED, f"exited with status {run.exit_code}"
    return Outcome((TestResult(command.display(), status, message, output=tail, duration=run.seconds),),
                   run.seconds, output=tail)
