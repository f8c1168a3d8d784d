"""The messages for repo mode, and the failure report the model reads.

Two edit formats: `diff` (SEARCH/REPLACE blocks against named files, for capable models) and
`whole` (one code block, merged into the file shown by definition name) for small models, which
cannot reproduce text exactly but can rewrite a short function.
"""

from __future__ import annotations

from typing import Literal

from greenloop.execute import Outcome, TestStatus
from greenloop.models import Message
from greenloop.repo.context import Context
from greenloop.repo.requests import PROTOCOL

EditFormat = Literal["diff", "whole"]

SYSTEM_DIFF = """You fix bugs in a code repository. A test command fails; change the code, never the tests, so it passes.
Answer with SEARCH/REPLACE blocks, each after a line with the file's path:

path/to/file.py
<<<<<<< SEARCH
lines copied exactly from the file
=======
the lines that replace them
>>>>>>> REPLACE

SEARCH text must match the file exactly (indentation too) and occur once; keep it to the lines that
change plus one or two around them. To create a file, leave SEARCH empty.
""" + PROTOCOL

SYSTEM_WHOLE = ("You are an expert Python programmer. Fix the bug so the tests pass. Reply with the corrected "
                "code in one ```python block. Do not include tests or example usage.")


def render_outcome(outcome: Outcome, command: str, limit: int) -> str:
    """What failed, briefly: the first failing tests with their messages and repository frames."""
    lines: list[str] = []
    failing = [t for t in outcome.tests if t.status in (TestStatus.FAILED, TestStatus.ERROR, TestStatus.TIMEOUT)]
    if len(outcome.tests) == 1 and outcome.tests[0].test_id == command:  # not pytest: status and output
        only = outcome.tests[0]
        lines.append(f"`{command}` {only.message or only.status.value}. Its output ends with:")
        lines.append(only.output.strip()[-limit + 200:] or "(no output)")
        return "\n".join(lines)
    said: set[str] = set()
    for result in failing:
        if len(said) == 3:
            break
        if result.message in said:
            continue
        said.add(result.message)
        kind = {TestStatus.ERROR: "ERROR", TestStatus.TIMEOUT: "TIMEOUT"}.get(result.status, "FAILED")
        lines.append(f"{kind} {result.test_id}: {result.message.splitlines()[0] if result.message else ''}".rstrip())
        trace = [t for t in result.traceback.splitlines() if t.strip()]
        if trace:
            lines.extend("    " + t for t in trace)
    if len(failing) > len(said):
        lines.append(f"... and {len(failing) - len(said)} more failing")
    if outcome.problem:
        lines.append(outcome.problem)
    lines.append(f"{outcome.passed} of {outcome.total} tests pass.")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 40] + "\n...\n" + lines[-1]


def _files(context: Context, fmt: EditFormat) -> str:
    parts = []
    for shown in context.files:
        note = "" if shown.whole else " (only the definitions that matter are shown; the rest is elided)"
        if shown.names and shown.names[0].startswith("lines "):
            note = f" ({shown.names[0]} of the file; the rest is elided)"
        lang = "python" if shown.path.endswith(".py") else ""
        parts.append(f"{shown.path}{note}\n```{lang}\n{shown.text.strip(chr(10))}\n```")
    if not parts:
        parts.append("(no file could be shown; name the file you edit)")
    return "\n\n".join(parts)


def messages(command: str, failure: str, context: Context, fmt: EditFormat, previous_error: str = "",
             task: str = "", repo_map: str = "", answered: str = "") -> list[Message]:
    tests = "\n\n".join(source for _, source in context.tests)
    parts = [f"The task: {task.strip()}"] if task.strip() else []
    parts.append(f"The test command `{command}` fails:\n{failure}")
    if tests:
        parts.append(f"The failing tests (do not change them):\n```python\n{tests}\n```")
    parts.append(_files(context, fmt))
    if repo_map:
        parts.append("The repository's source files and their definitions (to edit one, name it before a "
                     f"SEARCH/REPLACE block):\n{repo_map}")
    if answered:
        parts.append(f"What you asked for:\n{answered}")
    if previous_error:
        parts.append(f"Your previous reply could not be applied:\n{previous_error}")
    if fmt == "whole":
        target = context.files[0].path if context.files else "the file"
        parts.append(f"Fix the bug in {target}. Reply with the corrected functions in one ```python block.")
        system = SYSTEM_WHOLE
    else:
        parts.append("Fix the code so that the tests pass. Reply with SEARCH/REPLACE blocks.")
        system = SYSTEM_DIFF
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]
