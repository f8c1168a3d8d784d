"""A pytest plugin loaded (`-p greenloop.repo.collect_plugin`) for the collection run of `greenloop fix`.

It writes what pytest collected to the JSON file named by $GREENLOOP_COLLECT_OUT: the test ids (the
denominator a run with `-x` cannot shrink) and the files they come from (which the model may not
edit). Hooks rather than parsing `--collect-only` output, which changes with -q/-qq/-v.
"""

from __future__ import annotations

import json
import os
from typing import Any

_ids: list[str] = []
_selected: list[str] | None = None
_files: set[str] = set()
_errors: list[str] = []


def pytest_itemcollected(item: Any) -> None:
    _ids.append(item.nodeid)
    _files.add(str(item.path))


def pytest_collection_finish(session: Any) -> None:
    global _selected
    _selected = [item.nodeid for item in session.items]  # after -k / -m deselection


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _errors.append(report.nodeid)  # relative to the rootdir, like every node id


def pytest_unconfigure(config: Any) -> None:
    out = os.environ.get("GREENLOOP_COLLECT_OUT")
    if not out:
        return
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"ids": _ids if _selected is None else _selected, "files": sorted(_files), "errors": _errors,
                   "rootdir": str(config.rootpath)}, f)
