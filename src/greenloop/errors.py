"""The errors greenloop raises, and the exit code each maps to (in one place: `exit_code`).

- `BadInput` (exit 2): the user can fix it (a missing file, an unknown option, a bad config key).
- `SandboxFailure` (exit 3): the sandbox could not run what it was asked to.
- `ModelFailure` (exit 3): the model failed during a run (the endpoint down, retries spent).
- anything else is a bug in greenloop (exit 70, EX_SOFTWARE): reported as a bug, with the
  traceback written to a log file, never dressed up as a sandbox failure.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

EXIT_GREEN, EXIT_NOT_GREEN, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 70, 130


class GreenloopError(Exception):
    """Base of every error greenloop raises on purpose; its message is one line for the user."""

    exit_code = EXIT_FAILURE


class BadInput(GreenloopError, ValueError):
    """What was asked cannot be done as given; the message says what to change."""

    exit_code = EXIT_BAD_INPUT


class SandboxFailure(GreenloopError, RuntimeError):
    """The sandbox failed (could not start, died): not the candidate's fault, nor the user's."""

    exit_code = EXIT_FAILURE


class ModelFailure(GreenloopError):
    """The model failed while a run was in progress."""

    exit_code = EXIT_FAILURE


def exit_code(exc: BaseException) -> int:
    """The process exit status for an exception that reached the command line."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, GreenloopError):
        return exc.exit_code
    return EXIT_BUG


def log_bug(exc: BaseException) -> Path | None:
    """Write the traceback of an unexpected exception to greenloop's log directory; its path."""
    from platformdirs import user_log_dir

    directory = Path(os.environ.get("GREENLOOP_LOG_DIR") or user_log_dir("greenloop"))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"bug-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    except OSError:
        return None
    return path


def bug_message(exc: BaseException) -> str:
    """One line for an unexpected exception: it is a bug, and where its traceback went."""
    where = log_bug(exc)
    detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    log = f"; the traceback is in {where}" if where else ""
    return f"internal error (a bug in greenloop, please report it): {detail}{log}"
