"""The public Python API: exactly these names, each importable, and `import greenloop` stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import greenloop
from conftest import GOOD, fenced

EXPORTED = [
    "BadInput", "BenchRun", "Budget", "Completion", "FixResult", "GreenloopError", "Limits", "Model", "ModelError",
    "ModelFailure", "Outcome", "ProblemResult", "Progress", "Result", "RunStatus", "SandboxFailure", "Task",
    "TaskError", "TestResult", "TestStatus", "Usage", "__version__", "bench", "fix", "load_model", "solve",
]


def test_exported_names_are_pinned() -> None:
    assert greenloop.__all__ == EXPORTED


def test_every_exported_name_resolves_to_greenloop_code() -> None:
    for name in EXPORTED:
        value = getattr(greenloop, name)
        if name != "__version__":
            assert value.__module__.startswith("greenloop."), name


def test_import_has_no_side_effects_and_loads_nothing_else() -> None:
    code = ("import sys; before = set(sys.modules); import greenloop; "
            "print(sorted(m for m in set(sys.modules) - before if m.startswith('greenloop')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "['greenloop']" and proc.stderr == ""


def test_solve_through_the_package(workspace: Path, script, tmp_path: Path) -> None:
    result = greenloop.solve(workspace / "test_slugger.py", workspace / "slugger.py", model=script(fenced(GOOD)),
                             db=tmp_path / "runs.db", budget=greenloop.Budget(2, 60))
    assert isinstance(result, greenloop.Result)
    assert result.status is greenloop.RunStatus.GREEN
    assert (workspace / "slugger.py").read_text() == GOOD


def test_bad_input_is_a_greenloop_error(tmp_path: Path) -> None:
    try:
        greenloop.solve(tmp_path / "test_missing.py", tmp_path / "m.py", model="scripted:/nonexistent.json")
    except greenloop.BadInput as exc:
        assert "test_missing.py" in str(exc)
    else:
        raise AssertionError("a missing test file must raise BadInput")


def test_the_functions_are_not_shadowed_by_subpackages() -> None:
    """Importing a subpackage binds its name on the package: none may be called solve, fix or bench."""
    import greenloop.benchmarks.measure  # noqa: F401
    import greenloop.repo.api  # noqa: F401
    import greenloop.solver  # noqa: F401

    assert all(callable(getattr(greenloop, name)) for name in ("solve", "fix", "bench"))
    assert greenloop.bench.__module__ == "greenloop.benchmarks.api"
