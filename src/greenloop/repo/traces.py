"""Tracebacks in the user's test output: trimmed to the frames in the repository (those are what
the model can change), and the (path, line) of each frame, for pytest's short format and Python's.
"""

from __future__ import annotations

import re

_TRACE_LINES = 14
_FRAME = re.compile(r"^(?P<path>[^\s:][^:]*\.py):(?P<line>\d+): ")
_PY_FRAME = re.compile(r'^E?\s*File "(?P<path>[^"]+\.py)", line (?P<line>\d+)')


def _outside(path: str, roots: tuple[str, ...]) -> bool:
    if "site-packages/" in path or path.startswith("<"):
        return True
    return path.startswith("/") and not path.startswith(tuple(r.rstrip("/") + "/" for r in roots))


def trim_traceback(text: str, roots: tuple[str, ...]) -> str:
    """Keep frames in the repository (`roots`: where it is) and the `E` lines; drop site-packages,
    stdlib and frozen frames."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        frame = _FRAME.match(line)
        if frame or line.startswith("<frozen"):
            path = frame.group("path") if frame else "<frozen>"
            skipping = _outside(path, roots)
            if skipping:
                continue
        elif skipping and not line.startswith("E "):
            continue
        kept.append(line.rstrip())
    if len(kept) > _TRACE_LINES:
        kept = kept[:3] + ["..."] + kept[-(_TRACE_LINES - 4):]
    return "\n".join(kept)


def frames(text: str) -> list[tuple[str, int]]:
    """(path, line) of each frame in a pytest short traceback or a Python traceback, outermost first."""
    found: list[tuple[str, int]] = []
    for line in text.splitlines():
        m = _FRAME.match(line) or _PY_FRAME.match(line)
        if m:
            found.append((m.group("path"), int(m.group("line"))))
    return found
