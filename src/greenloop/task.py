"""What to solve and with how much: `Task` and `Budget`, loaded from files and validated up front.

Every problem with the input raises `TaskError` with one line saying what is wrong and what to do.
"""

from __future__ import annotations

import ast
import keyword
from dataclasses import dataclass
from pathlib import Path

from greenloop.errors import BadInput
from greenloop.stub import derive_stub


class TaskError(BadInput):
    """Bad input: the message is one line for the user."""


@dataclass(frozen=True)
class Budget:
    max_calls: int = 50  # model calls
    max_seconds: float = 600.0
    max_cost: float | None = None  # USD; None: no limit (local models cost nothing)

    def __post_init__(self) -> None:
        if self.max_calls < 1:
            raise TaskError("--max-calls must be at least 1")
        if self.max_seconds <= 0:
            raise TaskError("--max-seconds must be positive")
        if self.max_cost is not None and not self.max_cost > 0:
            raise TaskError("--max-cost must be a positive number of US dollars")


@dataclass(frozen=True)
class Task:
    """A test file, the module it imports, what the human said about it, and the starting stub."""

    tests_path: Path
    test_source: str
    target_path: Path
    spec: str = ""
    stub: str = ""  # the target's current text, or one derived from the tests

    @property
    def target_module(self) -> str:
        return self.target_path.stem

    @classmethod
    def from_files(
        cls, tests: str | Path, target: str | Path, spec: str = "", spec_file: str | Path | None = None
    ) -> Task:
        tests_path = Path(tests)
        target_path = Path(target)
        if not tests_path.exists():
            raise TaskError(f"test file not found: {tests_path}")
        if not tests_path.is_file():
            raise TaskError(f"--tests must be a file, but {tests_path} is a directory")
        try:
            source = tests_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TaskError(f"cannot read test file {tests_path}: {exc}") from None
        try:
            ast.parse(source, filename=str(tests_path))
        except SyntaxError as exc:
            raise TaskError(
                f"test file {tests_path} is not valid Python (line {exc.lineno}: {exc.msg}); fix it first"
            ) from None
        if target_path.is_dir():
            raise TaskError(f"--target must be a .py file path, but {target_path} is a directory")
        if target_path.suffix != ".py" or not target_path.stem.isidentifier() or keyword.iskeyword(target_path.stem):
            raise TaskError(f"--target must be a Python module file like slugger.py, not {target_path.name}")
        if not target_path.parent.is_dir():
            raise TaskError(f"the target's directory does not exist: {target_path.parent}")
        if target_path.resolve() == tests_path.resolve():
            raise TaskError("--target must not be the test file")
        if spec and spec_file:
            raise TaskError("give either --spec or --spec-file, not both")
        if spec_file:
            try:
                spec = Path(spec_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TaskError(f"cannot read spec file {spec_file}: {exc}") from None
        stub = ""
        if target_path.exists():
            try:
                stub = target_path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TaskError(f"cannot read the existing target {target_path}: {exc}") from None
        if not stub.strip():
            stub = derive_stub(source, target_path.stem, spec)
        return cls(tests_path, source, target_path, spec.strip(), stub)
