"""Repo mode (`greenloop fix`): edit a real git repository until its test command passes.

It is a Problem (`problem`) that the one engine (loop/engine.py) drives as it drives `solve`. It
works in a private copy (`workspace`), runs the user's command there under the sandbox
with the project's interpreter (`runner`, `interpreter`, `command`), takes per-test results from a
signed channel (`report_plugin`, `unittest_hook`, `results`), shows the model the failing tests and
the files that matter (`context`, `repomap`, `prompts`), applies its edits (`edits`, `merge`) within
what may change (`policy`, `reach`) after screening them for tampering (`screen`), stops early on
environment problems (`diagnose`), and writes the user's tree only after a verified green
(`apply`, `usertree`).

The public names are imported lazily: `report_plugin` is loaded into the user's pytest process
inside the sandbox, and importing this package must not drag the loop, the store and the models in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenloop.repo.api import fix
    from greenloop.repo.options import FixOptions, FixProgress, FixResult
    from greenloop.repo.workspace import RepoError

_WHERE = {"fix": "api", "FixOptions": "options", "FixProgress": "options", "FixResult": "options",
          "RepoError": "workspace"}
__all__ = ["FixOptions", "FixProgress", "FixResult", "RepoError", "fix"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'greenloop.repo' has no attribute {name!r}")
    return getattr(importlib.import_module(f"greenloop.repo.{_WHERE[name]}"), name)
