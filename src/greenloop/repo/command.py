"""The user's test command: what it collects, how it is run, and what its run means as an Outcome.

For pytest (`pytest ...`, `py.test ...`, `python -m pytest ...`, `.venv/bin/pytest ...`) greenloop
loads its report plugin (`-p _greenloop_report`), which streams signed per-test records over a pipe
(`results.py`); `python -m unittest ...` runs through the same channel (`unittest_hook.py`). The
tests are collected once first, so the total is fixed and the test files are known. Any other
command is one test: its exit status, with the tail of its output as the feedback.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

from greenloop.execute import Outcome, TestResult, TestStatus
from greenloop.repo.results import Channel, group, judge
from greenloop.repo.runner import CommandRun, Runner
from greenloop.repo.traces import trim_traceback

PLUGIN = "_greenloop_report"
UNITTEST = "_greenloop_unittest"


def install_plugin(directory: Path) -> None:
    """Put the standalone report plugin and unittest runner where the project's interpreter imports them."""
    directory.mkdir(parents=True, exist_ok=True)
    for source, name in (("report_plugin.py", PLUGIN), ("unittest_hook.py", UNITTEST)):
        text = resources.files("greenloop.repo").joinpath(source).read_text(encoding="utf-8")
        (directory / f"{name}.py").write_text(text, encoding="utf-8")


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
        if name.startswith("python") and list(self.argv[1:3]) == ["-m", "pytest"]:
            return 3
        return None

    @property
    def is_pytest(self) -> bool:
        return self.pytest_at is not None

    @property
    def is_unittest(self) -> bool:
        return PurePosixPath(self.argv[0]).name.startswith("python") and list(self.argv[1:3]) == ["-m", "unittest"]

    @property
    def per_test(self) -> bool:
        return self.is_pytest or self.is_unittest

    def display(self) -> str:
        return shlex.join(self.argv)

    def run_argv(self) -> list[str]:
        if self.is_unittest:
            return [self.argv[0], "-m", UNITTEST, *self.argv[3:]]
        at = self.pytest_at
        if at is None:
            return list(self.argv)
        # --tb=short goes first so the user's own --tb wins.
        return [*self.argv[:at], "-p", PLUGIN, "--tb=short", *self.argv[at:]]

    def collect_argv(self) -> list[str]:
        if self.is_unittest:
            return self.run_argv()
        return [*self.run_argv(), "--collect-only", "-q", "--continue-on-collection-errors"]

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
    return _collection(command, runner, copy, runner.run(command.collect_argv(), copy, env, channel), channel)


def baseline(command: TestCommand, runner: Runner, copy: Path) -> tuple[Collection, Outcome]:
    """The first run, which both collects (the total a run with `-x` cannot shrink, the test files)
    and gives the baseline outcome: one run of the command, not two."""
    if not command.per_test:
        collection = Collection(ids=[command.display()])
        return collection, execute(command, runner, copy, collection)
    channel = Channel()
    run = runner.run(command.run_argv(), copy, {"GREENLOOP_AUDIT": "1"}, channel)
    collection = _collection(command, runner, copy, run, channel)
    return collection, _outcome(command, runner, copy, collection, run, channel, baseline=True)


def execute(command: TestCommand, runner: Runner, copy: Path, collection: Collection, *,
            baseline: bool = False) -> Outcome:
    """Run the command once in `copy` and turn what happened into an Outcome."""
    if not command.per_test:
        run = runner.run(command.run_argv(), copy)
        if run.infrastructure:
            return Outcome((), run.seconds, run.infrastructure, infrastructure=True, output=run.output[-2000:])
        return _plain_outcome(command, run)
    channel = Channel()
    run = runner.run(command.run_argv(), copy, {"GREENLOOP_AUDIT": "1"} if baseline else {}, channel)
    return _outcome(command, runner, copy, collection, run, channel, baseline=baseline)


def _outcome(command: TestCommand, runner: Runner, copy: Path, collection: Collection, run: CommandRun,
             channel: Channel, *, baseline: bool) -> Outcome:
    if run.infrastructure:
        return Outcome((), run.seconds, run.infrastructure, infrastructure=True, output=run.output[-2000:])
    report = group(channel.records)
    tail = "\n".join(run.output.strip().splitlines()[-15:])
    outcome = judge(report, collection.ids, None if baseline else collection.skipped, exit_code=run.exit_code,
                    timed_out=run.timed_out, timeout=runner.limits.timeout, channel_problem=channel.problem,
                    output=tail, errors=tuple(collection.errors))
    roots = (str(runner.root), str(copy))
    tests = tuple(TestResult(t.test_id, t.status, t.message, trim_traceback(t.traceback, roots), duration=t.duration)
                  for t in outcome.tests)
    if baseline:
        collection.skipped = {t.test_id for t in tests if t.status is TestStatus.SKIPPED}
        opened = {relative(p, (runner.root, copy)) for p in report.opened}
        collection.opened = sorted(p for p in opened if p and not p.endswith((".py", ".pyc")))
    return Outcome(tests, run.seconds, outcome.problem, output=tail)


def _plain_outcome(command: TestCommand, run: CommandRun) -> Outcome:
    tail = "\n".join(run.output.strip().splitlines()[-30:])[-3000:]
    if run.timed_out:
        status, message = TestStatus.TIMEOUT, "timed out"
    elif run.exit_code == 0:
        status, message = TestStatus.PASSED, ""
    else:
        status, message = TestStatus.FAILED, f"exited with status {run.exit_code}"
    return Outcome((TestResult(command.display(), status, message, output=tail, duration=run.seconds),),
                   run.seconds, output=tail)
