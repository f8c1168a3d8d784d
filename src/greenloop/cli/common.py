"""What the commands that run a loop (`solve`, `fix`) share: the error line and the progress line."""

from __future__ import annotations

import argparse
import json
import sys

from greenloop.loop.result import Progress


def fail(args: argparse.Namespace, message: str, code: int = 2) -> int:
    """One `greenloop: ...` line on stderr (and the JSON object with --json); returns the exit code."""
    if getattr(args, "json", False):
        print(json.dumps({"status": "error", "message": message}))
    print(f"greenloop: {message}", file=sys.stderr)
    return code


def progress_line(p: Progress) -> str:
    return (
        f"iteration {p.iteration}/{p.max_iterations} · best {p.best_passed}/{p.total} tests · "
        f"last {p.last_passed}/{p.total} · {p.prompt_tokens + p.completion_tokens:,} tokens · {p.elapsed:.1f}s"
    )
