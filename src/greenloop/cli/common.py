"""What the commands that run a loop (`solve`, `fix`) share: the error line and the progress line."""

from __future__ import annotations

import argparse
import json
import re
import sys

from greenloop.loop.result import Progress


def fail(args: argparse.Namespace, message: str, code: int = 2) -> int:
    """One `greenloop: ...` line on stderr (and the JSON object with --json); returns the exit code."""
    if getattr(args, "json", False):
        print(json.dumps({"status": "error", "message": message}))
    print(f"greenloop: {terminal_safe(message)}", file=sys.stderr)
    return code


# C0 controls but newline and tab, DEL, and C1 controls (0x9b is a one-byte CSI on some terminals).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """`text` with every control character but newline and tab shown as a visible `\\xNN` escape.

    Candidate code, its output and its error messages are untrusted: printed raw, an escape
    sequence could retitle or clear the terminal, rewrite what was printed above (`\\r`), or worse.
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def add_max_calls(parser: argparse.ArgumentParser, default: int) -> None:
    """`--max-calls N`, and `--max-iterations` as its deprecated spelling (it always counted model calls)."""
    parser.add_argument("--max-calls", type=int, default=default, help=f"model calls before giving up (default {default})")
    parser.add_argument("--max-iterations", type=int, dest="max_calls", action=_Deprecated, help=argparse.SUPPRESS)


class _Deprecated(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(f"greenloop: {option_string} is deprecated and will be removed; use --max-calls", file=sys.stderr)
        setattr(namespace, self.dest, values)


def progress_line(p: Progress) -> str:
    return (
        f"call {p.calls}/{p.max_calls} · best {p.best_passed}/{p.total} tests · "
        f"last {p.last_passed}/{p.total} · {p.prompt_tokens + p.completion_tokens:,} tokens · "
        + (f"${p.cost:.4f} · " if p.cost else "") + f"{p.elapsed:.1f}s"
    )
