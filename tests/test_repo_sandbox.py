"""The private copy, the sandboxed test command, per-test results from the report channel, and the context the
model is shown: against real git, real pytest and real bubblewrap."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenloop.execute import Limits, TestStatus
from greenloop.execute.sandbox import bwrap_problem
from greenloop.repo.command import Collection, TestCommand, collect, execute, install_plugin
from greenloop.repo.context import gather
from greenloop.repo.interpreter import detect
from greenloop.repo.sandboxed import Runner, _python_dirs_under
from greenloop.repo.usertree import apply_to_tree
from greenloop.repo.workspace import Scratch, discover
from test_repo_fix import git, make_repo

FILES = {
    "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    "src/geo/__init__.py": "from geo.shapes import area, perimeter\n",
    "src/geo/shapes.py": (
        "import math\n\n\n"
        "def area(kind, size):\n    return SHAPES[kind](size)\n\n\n"
        "def perimeter(kind, size):\n    return 4 * size\n\n\n"
        "def _circle(r):\n    return math.pi * r ** 2\n\n\n"
        "SHAPES = {'circle': _circle, 'square': lambda s: s * s}\n"
    ),
    "tests/test_shapes.py": (
        "import pytest\nfrom geo import area, perimeter\n\n\n"
        "def test_square():\n    assert area('square', 2) == 4\n\n\n"
        "def test_triangle():\n    assert area('triangle', 2) == 1.7320508075688772\n\n\n"
        "@pytest.mark.parametrize('size', [1, 2])\ndef test_perimeter(size):\n    assert perimeter('square', size) == 4 * size\n\n\n"
        "class TestCircle:\n    def test_perimeter(self):\n        assert perimeter('circle', 1) == 6.283185307179586\n\n\n"
        "@pytest.mark.skip(reason='later')\ndef test_hexagon():\n    pass\n"
    ),
}
needs_bwrap = pytest.mark.skipif(bool(bwrap_problem()), reason="bubblewrap is not usable here")


class Setup:
    def __init__(self, root: Path) -> None:
        self.info = discover(root)
        self.scratch = Scratch(self.info)
        self.scratch.snapshot()
        install_plugin(self.scratch.plugin_dir())
        self.runner = Runner(self.info.root, self.info.cwd, Limits(timeout=30, cpu_seconds=30, memory_mb=4096),
                             detect(root, sys.executable), self.scratch.plugin_dir())

    def run(self, *argv: str, collection: Collection | None = None):
        command = TestCommand(argv)
        collection = collection or collect(command, self.runner, self.scratch.work)
        return collection, execute(command, self.runner, self.scratch.work, collection)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    s = Setup(make_repo(tmp_path_factory.mktemp("geo") / "repo", FILES))
    yield s
    s.scratch.close()


def test_per_test_results_come_from_pytest_and_the_total_survives_dash_x(setup: Setup) -> None:
    collection, outcome = setup.run("pytest", "-x", "tests")
    assert collection.files == ["tests/test_shapes.py"]
    assert len(collection.ids) == 6
    status = {t.test_id: t.status for t in outcome.tests}
    assert status == {
        "tests/test_shapes.py::test_square": TestStatus.PASSED,
        "tests/test_shapes.py::test_triangle": TestStatus.FAILED,
        "tests/test_shapes.py::test_perimeter[1]": TestStatus.NOT_RUN,
        "tests/test_shapes.py::test_perimeter[2]": TestStatus.NOT_RUN,
        "tests/test_shapes.py::TestCircle::test_perimeter": TestStatus.NOT_RUN,
        "tests/test_shapes.py::test_hexagon": TestStatus.NOT_RUN,
    }
    failed = next(t for t in outcome.tests if t.status is TestStatus.FAILED)
    assert failed.message.startswith("KeyError: 'triangle'")
    # Frames in the repository only, innermost where the error came from.
    assert "src/geo/shapes.py:5: in area" in failed.traceback and "site-packages" not in failed.traceback
    _, full = setup.run("pytest", "tests", collection=collection)
    by_id = {t.test_id: t.status for t in full.tests}
    assert by_id["tests/test_shapes.py::test_hexagon"] is TestStatus.SKIPPED  # neither passed nor failing
    assert by_id["tests/test_shapes.py::TestCircle::test_perimeter"] is TestStatus.FAILED
    assert full.passed == 3 and full.total == 6 and not full.green


def test_deselected_tests_are_not_expected(setup: Setup) -> None:
    collection, outcome = setup.run("python", "-m", "pytest", "tests", "-k", "square")
    assert collection.ids == ["tests/test_shapes.py::test_square"]
    assert outcome.green and outcome.total == 1


def test_context_shows_the_failing_test_and_the_definition_it_reaches(setup: Setup) -> None:
    _, outcome = setup.run("pytest", "tests")
    read = setup.scratch.original
    roots = (str(setup.info.root), str(setup.scratch.work))
    context = gather(outcome, read=read, protect=lambda p: "test" if p.startswith("tests/") else None, files=[],
                     cwd="", roots=roots, budget=4000)
    assert [f.path for f in context.files] == ["src/geo/shapes.py"] and context.files[0].whole
    assert [t for t, _ in context.tests][:2] == ["tests/test_shapes.py::test_triangle",
                                                 "tests/test_shapes.py::TestCircle::test_perimeter"]
    assert context.tests[0][1] == "def test_triangle():\n    assert area('triangle', 2) == 1.7320508075688772"
    assert "src/geo/shapes.py" in context.labels() and "tests/test_shapes.py (test, read-only)" in context.labels()
    # A small budget, or a small model, gets the definitions that matter rather than the file.
    narrow = gather(outcome, read=read, protect=lambda p: None if p.startswith("src") else "t", files=[], cwd="",
                    roots=roots, budget=4000, single=True)
    assert narrow.files[0].names == ("area", "perimeter") and "_circle" not in narrow.files[0].text
    assert "import math" in narrow.files[0].text
    assert gather(outcome, read=read, protect=lambda p: None, files=[], cwd="", roots=roots, budget=10).files == []


@needs_bwrap
def test_writes_are_confined_to_the_private_copy(setup: Setup) -> None:
    root = setup.info.root
    code = (
        "import os, sys\n"
        "open('made-by-test.txt', 'w').write('x')\n"
        f"open({str(root / 'abs.txt')!r}, 'w').write('x')\n"
        "try:\n"
        f"    open({str(Path(sys.prefix) / 'escaped.txt')!r}, 'w')\n"
        "except OSError as exc:\n"
        "    print('blocked:', exc.strerror)\n"
        "print('home', os.environ.get('HOME'), 'uid', os.getuid())\n"
    )
    run = setup.runner.run(["python", "-c", code], setup.scratch.work)
    assert run.exit_code == 0, run.output
    assert "blocked: Read-only file system" in run.output and "home /tmp uid 65534" in run.output
    assert (setup.scratch.work / "made-by-test.txt").exists() and (setup.scratch.work / "abs.txt").exists()
    assert not (root / "made-by-test.txt").exists() and not (root / "abs.txt").exists()
    assert not (Path(sys.prefix) / "escaped.txt").exists()
    setup.scratch.reset()  # and the next run starts from the snapshot again
    assert not (setup.scratch.work / "made-by-test.txt").exists()
    assert git(root, "status", "--porcelain") == ""


@needs_bwrap
def test_timeout_kills_everything_the_command_started(setup: Setup) -> None:
    runner = Runner(setup.info.root, "", Limits(timeout=2, cpu_seconds=30, memory_mb=4096))
    child = "import time\nwhile True:\n    open('tick', 'a').write('x')\n    time.sleep(0.05)"
    code = f"import subprocess, time\nsubprocess.Popen(['python', '-c', {child!r}])\ntime.sleep(60)"
    started = time.monotonic()
    run = runner.run(["python", "-c", code], setup.scratch.work)
    assert run.timed_out and time.monotonic() - started < 10
    size = (setup.scratch.work / "tick").stat().st_size
    time.sleep(0.5)
    assert (setup.scratch.work / "tick").stat().st_size == size  # the grandchild is gone too
    setup.scratch.reset()


def test_without_bubblewrap_the_copy_still_shadows_the_original(setup: Setup) -> None:
    runner = Runner(setup.info.root, "", Limits(timeout=30, cpu_seconds=30, memory_mb=4096))
    runner.sandboxed = False  # as when bubblewrap is missing
    run = runner.run(["python", "-c", "import geo, sys; print(geo.__file__); print(sys.argv[1])",
                      str(setup.info.root / "x")], setup.scratch.work)
    assert run.exit_code == 0, run.output
    assert f"{setup.scratch.work}/src/geo/__init__.py" in run.output and f"{setup.scratch.work}/x" in run.output


def test_apply_refuses_when_the_user_changed_a_file_meanwhile(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"a.py": "A = 1\n", "b.py": "B = 1\n"})
    originals: dict[str, str | None] = {"a.py": "A = 1\n", "b.py": "B = 1\n", "c.py": None}
    (root / "b.py").write_text("B = 5  # the user's edit during the run\n")
    edits = {"a.py": "A = 2\n", "b.py": "B = 2\n", "c.py": "C = 1\n"}
    assert apply_to_tree(root, edits, originals) == ["b.py"]
    assert (root / "a.py").read_text() == "A = 1\n" and not (root / "c.py").exists()  # nothing written
    (root / "b.py").write_text("B = 1\n")
    assert apply_to_tree(root, edits, originals) == []
    assert {p: (root / p).read_text() for p in edits} == edits
    assert sorted(p.name for p in root.iterdir() if p.name != ".git") == ["a.py", "b.py", "c.py"]  # no temp files


def test_a_virtualenv_inside_the_repository_is_bound_again_over_the_copy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, copy = tmp_path / "repo", tmp_path / "copy"
    for d in (root / ".venv/lib/site-packages", root / "src/pkg", copy / "src/pkg"):
        d.mkdir(parents=True)
    monkeypatch.setattr(sys, "prefix", str(root / ".venv"))
    monkeypatch.setattr(sys, "path", [str(root / ".venv/lib/site-packages"), str(root / "src"), str(root)])
    # The venv is not in the copy (git ignores it): bound again. src is: the copy's must win.
    assert _python_dirs_under(root, copy) == [str(root / ".venv")]


def test_a_timeout_names_the_test_that_was_running(setup: Setup) -> None:
    slow = "import time\n\n\ndef test_quick():\n    pass\n\n\ndef test_hangs():\n    time.sleep(60)\n"
    setup.scratch.prepare({"tests/test_slow.py": slow})
    command = TestCommand(("pytest", "tests/test_slow.py"))
    collection = collect(command, setup.runner, setup.scratch.work)
    quick = Runner(setup.info.root, "", Limits(timeout=4, cpu_seconds=30, memory_mb=4096),
                   setup.runner.interpreter, setup.scratch.plugin_dir())
    outcome = execute(command, quick, setup.scratch.work, collection)
    status = {t.test_id: (t.status, t.message) for t in outcome.tests}
    assert status["tests/test_slow.py::test_quick"][0] is TestStatus.PASSED
    assert status["tests/test_slow.py::test_hangs"] == (TestStatus.TIMEOUT,
                                                         "was running when the command timed out after 4s")
    assert "while running tests/test_slow.py::test_hangs" in outcome.problem and not outcome.green
    setup.scratch.reset()


def test_other_commands_are_judged_by_status_and_their_tracebacks_choose_the_files(setup: Setup) -> None:
    script = "import sys\nsys.path.insert(0, 'src')\nfrom geo import area\nprint(area('triangle', 2))\n"
    setup.scratch.prepare({"check.py": script})
    collection, outcome = setup.run("python", "check.py")
    assert outcome.total == 1 and not outcome.green and "KeyError" in outcome.tests[0].output
    context = gather(outcome, read=lambda p: script if p == "check.py" else setup.scratch.original(p),
                     protect=lambda p: None if p.startswith("src/") else "no", files=[], cwd="",
                     roots=(str(setup.info.root), str(setup.scratch.work)), budget=4000)
    assert [f.path for f in context.files] == ["src/geo/shapes.py"]
    setup.scratch.reset()
