"""The user's test command: what it collects, how it is run, and what its run means as an Outcome.

For pytest (`pytest ...`, `py.test ...`, `python -m pytest ...`) greenloop injects `--junitxml` into
a private path and reads per-test results from it; the tests are collected once first (with a
small plugin) so the total is fixed and the test files are known. Any other command is one test:
its exit status, with the tail of its output as the feedback.
"""

from __future__ import annotations

import json
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from greenloop.execute import Outcome, TestResult, TestStatus
from greenloop.repo.junit import mangle, parse_junit
from greenloop.repo.runner import CommandRun, Runner

_PLUGIN = "greenloop.repo.collect_plugin"


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

    def display(self) -> str:
        return shlex.join(self.argv)

    def run_argv(self, junit: str) -> list[str]:
        at = self.pytest_at
        if at is None:
            return list(self.argv)
        # --tb=short goes first so the user's own --tb wins; the report path goes last so ours does.
        return [*self.argv[:at], "--tb=short", *self.argv[at:], f"--junitxml={junit}", "-o", "junit_family=xunit1"]

    def collect_argv(self) -> list[str]:
        return [*self.argv, "--collect-only", "--continue-on-collection-errors", "-p", _PLUGIN]

    def path_args(self) -> list[str]:
        """Arguments that may name files or directories (test paths, scripts)."""
        return [a.split("::")[0] for a in self.argv[1:] if not a.startswith("-")]


@dataclass
class Collection:
    ids: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # repository-relative
    errors: list[str] = field(default_factory=list)
    keys: dict[tuple[str, str], str] = field(default_factory=dict)


class CommandError(Exception):
    """The command cannot be used as a test command (pytest rejected its arguments, no tests)."""


def _relative(path: str, root: Path, copy: Path) -> str | None:
    p = Path(path)
    for base in (root, copy):
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            continue
    return None


def collect(command: TestCommand, runner: Runner, copy: Path, results: Path) -> Collection:
    """The tests the command runs, collected in the sandbox; raises CommandError for a bad command."""
    if not command.is_pytest:
        return Collection(ids=[command.display()])
    out = results / f"collect-{secrets.token_hex(8)}.json"
    run = runner.run(command.collect_argv(), copy, {"GREENLOOP_COLLECT_OUT": str(out)})
    if run.infrastructure:
        raise RuntimeError(f"the sandbox failed: {run.infrastructure}")
    last = _last_line(run.output)
    if run.exit_code == 4:
        raise CommandError(f"pytest rejected the command `{command.display()}`: {last}")
    if run.timed_out:
        raise CommandError(f"collecting the tests took longer than {runner.limits.timeout:g}s; raise --timeout")
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise CommandError(f"`{command.display()}` did not run pytest's collection (exit status "
                           f"{run.exit_code}): {last}") from None
    collection = Collection(ids=list(data["ids"]), errors=list(data["errors"]))
    rootdir = Path(data["rootdir"])
    files = {_relative(f, runner.root, copy) for f in data["files"]}
    for error in collection.errors:
        files.add(_relative(str(rootdir / error.split("::")[0]), runner.root, copy))
    collection.files = sorted(f for f in files if f)
    if not collection.ids and not collection.errors:
        raise CommandError(f"`{command.display()}` collects no tests")
    collection.keys = {mangle(i): i for i in collection.ids}
    return collection


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip() and not set(line.strip()) <= set("=!-_ ")]
    return lines[-1][:300] if lines else "no output"


def execute(command: TestCommand, runner: Runner, copy: Path, results: Path, collection: Collection) -> Outcome:
    """Run the command once in `copy` and turn what happened into an Outcome."""
    junit = results / f"junit-{secrets.token_hex(8)}.xml"
    run = runner.run(command.run_argv(str(junit)), copy)
    if run.infrastructure:
        return Outcome((), run.seconds, run.infrastructure, infrastructure=True, output=run.output[-2000:])
    if not command.is_pytest:
        return _plain_outcome(command, run)
    try:
        report = parse_junit(junit.read_text(encoding="utf-8", errors="replace"), collection.keys,
                             (str(runner.root), str(copy)))
    except (OSError, SyntaxError):
        report = None
    finally:
        junit.unlink(missing_ok=True)
    tail = "\n".join(run.output.strip().splitlines()[-15:])
    if report is None:
        why = "timed out" if run.timed_out else f"exited with status {run.exit_code} without a test report"
        never = tuple(TestResult(i, TestStatus.NOT_RUN, "never ran") for i in collection.ids)
        return Outcome(never, run.seconds, f"the command {why}", output=tail)
    seen = {r.test_id for r in report.results}
    tests = list(report.results)
    for test_id in collection.ids:
        if test_id not in seen and test_id not in report.skipped:
            status = TestStatus.TIMEOUT if run.timed_out else TestStatus.NOT_RUN
            tests.append(TestResult(test_id, status, "never ran (the run stopped before it)"))
    failing = any(t.status in (TestStatus.FAILED, TestStatus.ERROR) for t in tests)
    problem = ""
    if run.timed_out:
        problem = f"the command timed out after {runner.limits.timeout:g}s"
    elif run.exit_code != 0 and not failing:
        problem = f"the command exited with status {run.exit_code}: {_last_line(run.output)}"
    return Outcome(tuple(tests), run.seconds, problem, output=tail)


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
