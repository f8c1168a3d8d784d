"""Baseline failures that no code change can fix: reported before the loop, with what to do.

A module installed in neither the project's interpreter nor the repository (`ModuleNotFoundError`)
and an environment variable the sandbox does not have (`KeyError` from `os.environ`) are problems
of the environment. Asking a model to "fix" them invites stubs and workarounds (a fake `toml.py`),
so the run stops with one line instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from greenloop.execute import Outcome, TestStatus
from greenloop.repo.interpreter import Interpreter

_MISSING = re.compile(r"No module named '([\w.]+)'")
_KEY = re.compile(r"KeyError: '([A-Za-z_][A-Za-z0-9_]*)'")
_ENV_READ = re.compile(r"environ\b|getenv\(")


def _texts(outcome: Outcome) -> list[str]:
    failing = [t for t in outcome.tests if t.status not in (TestStatus.PASSED, TestStatus.SKIPPED)]
    return [f"{t.message}\n{t.traceback}\n{t.output}" for t in failing] + [outcome.output]


def missing_module(outcome: Outcome, interpreter: Interpreter, in_repo: Callable[[str], bool]) -> str | None:
    """One line when the baseline fails importing a module that is neither installed nor the project's."""
    for text in _texts(outcome):
        for name in _MISSING.findall(text):
            top = name.split(".")[0]
            if in_repo(top) or top in interpreter.installed or top in interpreter.stdlib:
                continue
            return (f"the tests import {name!r}, which is not installed for {interpreter.describe()} and is not "
                    "in the repository; install it there, or choose the project's interpreter with --python PATH")
    return None


def missing_variable(outcome: Outcome, passed: set[str]) -> str | None:
    """One line when the baseline fails looking up an environment variable the sandbox lacks."""
    for text in _texts(outcome):
        if not _ENV_READ.search(text):
            continue
        for name in _KEY.findall(text):
            if name not in passed:
                return (f"the tests fail reading the environment variable {name}, which is not set in the sandbox "
                        f"(nothing from your environment enters it): likely an environment problem, not a bug; "
                        f"pass --env {name} or --env {name}=VALUE")
    return None
