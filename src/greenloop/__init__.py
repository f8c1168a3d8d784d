"""greenloop: turn tests into working code by generate -> execute -> test -> revise.

The public Python API:

    import greenloop

    result = greenloop.solve("tests/test_slugger.py", "slugger.py", model="openai:qwen2.5-coder")
    if result.status is greenloop.RunStatus.GREEN:
        print(result.message)

`solve`, `fix` and `bench` are what the commands of the same names run; they raise `BadInput`
(or a subclass) for input that cannot work, `SandboxFailure` when the sandbox fails, and return
the run's result otherwise. Names are loaded on first use, so `import greenloop` stays cheap and
has no side effects (the sandboxed worker imports this package too).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    "solve": "greenloop.solver",
    "fix": "greenloop.repo.api",
    "bench": "greenloop.benchmarks.api",
    "Budget": "greenloop.task",
    "Task": "greenloop.task",
    "TaskError": "greenloop.task",
    "Limits": "greenloop.execute.outcome",
    "Outcome": "greenloop.execute.outcome",
    "TestResult": "greenloop.execute.outcome",
    "TestStatus": "greenloop.execute.outcome",
    "Result": "greenloop.loop.result",
    "RunStatus": "greenloop.loop.result",
    "Progress": "greenloop.loop.result",
    "FixResult": "greenloop.repo.options",
    "BenchRun": "greenloop.benchmarks.measure",
    "ProblemResult": "greenloop.benchmarks.measure",
    "Model": "greenloop.models",
    "Completion": "greenloop.models",
    "Usage": "greenloop.models",
    "ModelError": "greenloop.models",
    "load_model": "greenloop.models",
    "GreenloopError": "greenloop.errors",
    "BadInput": "greenloop.errors",
    "SandboxFailure": "greenloop.errors",
    "ModelFailure": "greenloop.errors",
}

__all__ = [
    "BadInput", "BenchRun", "Budget", "Completion", "FixResult", "GreenloopError", "Limits", "Model", "ModelError",
    "ModelFailure", "Outcome", "ProblemResult", "Progress", "Result", "RunStatus", "SandboxFailure", "Task",
    "TaskError", "TestResult", "TestStatus", "Usage", "__version__", "bench", "fix", "load_model", "solve",
]

if TYPE_CHECKING:
    from greenloop.benchmarks.api import bench
    from greenloop.benchmarks.measure import BenchRun, ProblemResult
    from greenloop.errors import BadInput, GreenloopError, ModelFailure, SandboxFailure
    from greenloop.execute.outcome import Limits, Outcome, TestResult, TestStatus
    from greenloop.loop.result import Progress, Result, RunStatus
    from greenloop.models import Completion, Model, ModelError, Usage, load_model
    from greenloop.repo.api import fix
    from greenloop.repo.options import FixResult
    from greenloop.solver import solve
    from greenloop.task import Budget, Task, TaskError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'greenloop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
