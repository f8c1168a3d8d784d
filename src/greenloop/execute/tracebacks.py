"""What feedback shows of an exception: the frames of the code it is about, and the innermost
such frame's local variables (shortened), whoever formats it (the judge or the candidate's process)."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from types import TracebackType

from greenloop.execute.guard import short_repr


def frames_and_locals(tb: TracebackType | None, ours: Callable[[str], bool],
                      keep: int = 6) -> tuple[list[str], dict[str, str]]:
    """The last `keep` frames whose file `ours` accepts, as traceback lines, and the locals of the
    innermost of them (names starting with `@`, pytest's assertion temporaries, left out)."""
    lines: list[str] = []
    for f in [f for f in traceback.extract_tb(tb) if ours(f.filename)][-keep:]:
        lines.append(f'  File "{os.path.basename(f.filename)}", line {f.lineno}, in {f.name}')
        if f.line:
            lines.append(f"    {f.line.strip()}")
    innermost = None
    while tb is not None:
        if ours(tb.tb_frame.f_code.co_filename):
            innermost = tb.tb_frame
        tb = tb.tb_next
    local_values: dict[str, str] = {}
    if innermost is not None:
        for name, value in list(innermost.f_locals.items())[:12]:
            if not name.startswith("@"):
                local_values[name] = short_repr(value, 80)
    return lines, local_values
