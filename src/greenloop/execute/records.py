"""The worker's reading of a judge's report: signed records in, an Outcome dict out."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

_OUTPUT_LIMIT = 2000


def read_output(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - _OUTPUT_LIMIT))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def assemble(raw: bytes, key: bytes, ended_by: str, seconds: float) -> dict[str, Any]:
    """Turn the child's signed records into an Outcome dict (see outcome.Outcome.from_dict)."""
    records: list[dict[str, Any]] = []
    forged = 0
    for line in raw.split(b"\n"):
        if not line:
            continue
        body, _, mac = line.rpartition(b"\t")
        expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
        if not body or not hmac.compare_digest(mac, expected):
            forged += 1
            continue
        records.append(json.loads(body))
    collected: list[str] = []
    tests: dict[str, dict[str, Any]] = {}
    running = ""
    problems: list[str] = []
    needs_shared = ""
    done = False
    for record in records:
        kind = record["kind"]
        if kind == "collected":
            collected = list(record["ids"])
        elif kind == "start":
            running = record["id"]
        elif kind == "test":
            running = ""
            entry = {k: v for k, v in record.items() if k not in ("kind", "returned", "id")}
            entry["test_id"] = record["id"]
            tests[record["id"]] = entry
        elif kind == "collect-error":
            problems.append("collection failed: " + record["message"])
        elif kind == "needs-shared":
            needs_shared = str(record["message"])
            problems.append(f"the tests pass a value the split judge cannot send to the candidate ({needs_shared})")
        elif kind == "runner-error":
            problems.append("the test run was aborted: " + record["message"])
        elif kind == "done":
            done = True
    ending = {
        "timeout": "timed out",
        "memory": "exceeded the memory limit",
        "processes": "exceeded the process limit",
    }.get(ended_by)
    results = []
    for test_id in collected:
        if test_id in tests:
            results.append(tests[test_id])
        elif test_id == running and ending:
            status = "timeout" if ended_by == "timeout" else "error"
            results.append({"test_id": test_id, "status": status, "message": f"the test {ending}"})
        else:
            results.append({"test_id": test_id, "status": "not-run", "message": "never ran"})
    if forged:
        problems.append(f"{forged} report line(s) not signed by the runner were ignored")
    if ending:
        problems.append(f"the candidate {ending}" + (f" in {running}" if running else ""))
    elif not done and not problems:
        problems.append("the test process exited before pytest finished (did the code call os._exit or crash?)")
    return {"tests": results, "seconds": seconds, "problem": "; ".join(problems), "collected": collected,
            **({"needs_shared": needs_shared} if needs_shared else {})}
