"""A candidate's escape sequences never reach the user's terminal raw.

The candidate below carries terminal control sequences in its source, its printed output and its
error message (a window-title change, a clear-screen, a carriage return that would overwrite the
line above, and an 8-bit CSI). They land in the run store as data; `show`, `show --json` and the
live progress of `solve` print that data to a real pseudo-terminal, and what the terminal receives
is checked byte by byte.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from greenloop.store import Store

PAYLOAD = "\x1b]0;PWNED\x07\x1b[2J\x9b31m"
# The source carries the payload raw in a comment and a string; \r is made at run time (a raw \r in
# source would end the line).
CANDIDATE = (
    "def slugify(text):\n"
    f"    # {PAYLOAD}\n"
    f"    print('{PAYLOAD}' + chr(13) + 'overwritten')\n"
    f"    raise ValueError('{PAYLOAD}' + chr(13))\n"
)
FORBIDDEN = (b"\x1b]0;PWNED", b"\x1b[2J", "\x9b".encode(), b"\x07", b"\x9b")


def on_terminal(args: list[str], cwd: Path, columns: int = 200) -> bytes:
    """Run greenloop with stdout and stderr on a pseudo-terminal; everything the terminal received."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "greenloop", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env=env)
    os.close(follower)
    received = bytearray()
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            received += chunk
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    return bytes(received)


def assert_inert(received: bytes, *, live: bool = False) -> None:
    for raw in FORBIDDEN:
        assert raw not in received, (raw, received[-2000:])
    assert b"\roverwritten" not in received
    if not live:  # a live display redraws its line with \r itself; elsewhere only "\n" -> "\r\n" makes one
        assert b"\r" not in received.replace(b"\r\n", b""), received[-2000:]


def _run(workspace: Path, script) -> str:
    model = script(f"```python\n{CANDIDATE}```\n")
    proc = subprocess.run(
        [sys.executable, "-m", "greenloop", "solve", "--tests", "test_slugger.py", "--target", "slugger.py",
         "--db", "runs.db", "--model", model, "--max-calls", "1", "--json"],
        cwd=workspace, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    return str(json.loads(proc.stdout)["run_id"])


def test_show_prints_candidate_text_with_control_characters_escaped(workspace: Path, script) -> None:
    run_id = _run(workspace, script)
    store = Store(workspace / "runs.db")
    attempt = store.attempt_rows(run_id)[0]
    # The payload is in what `show` prints: the code and the feedback (printed output, the error).
    assert PAYLOAD in (attempt.code or "") and PAYLOAD in attempt.feedback and "\r" in attempt.feedback
    store.close()
    received = on_terminal(["show", run_id, "--db", "runs.db"], workspace)
    assert b"attempt 1" in received
    assert_inert(received)
    # What was escaped is still there for a person to read.
    assert b"\\x1b]0;PWNED\\x07" in received and b"\\x0d" in received


def test_show_json_escapes_control_characters_and_round_trips(workspace: Path, script) -> None:
    run_id = _run(workspace, script)
    received = on_terminal(["show", "last", "--db", "runs.db", "--json"], workspace)
    assert_inert(received)
    data = json.loads(received.decode().replace("\r\n", "\n"))
    assert data["run"]["id"] == run_id and PAYLOAD in data["attempts"][0]["code"]


def test_solve_progress_on_a_terminal_never_prints_the_candidate_raw(workspace: Path, script) -> None:
    model = script(*[f"```python\n{CANDIDATE}```\n"] * 3)
    received = on_terminal(["solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db",
                            "--model", model, "--max-calls", "3"], workspace)
    assert b"exhausted" in received
    assert_inert(received, live=True)
