"""`greenloop runs` and `greenloop show`: read the run store.

Everything printed from the store passes through `terminal_safe` first: attempts hold candidate code,
its output and its error messages, which must not reach the terminal as escape sequences.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from greenloop.cli.common import fail, terminal_safe
from greenloop.rows import AttemptRow, RunRow
from greenloop.store import LAST, Store, StoreError

TSV_COLUMNS = ("run", "started", "status", "tests", "calls", "tokens", "cost", "seconds", "model", "target")


def register(commands: Any) -> None:
    p = commands.add_parser(
        "runs", help="list recorded runs",
        description="List recorded runs, newest first. On a terminal: a table. Piped: one run per line, tab-separated "
                    f"columns without a header ({', '.join(TSV_COLUMNS)}), full ids first.",
    )
    p.add_argument("--limit", type=int, default=20, help="at most this many runs (default 20)")
    p.add_argument("--db", help="run store path (default $GREENLOOP_DB or the user data dir)")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(handler=list_runs)
    s = commands.add_parser("show", help="show a run's attempts, feedback and best code")
    s.add_argument("run_id", help=f"run id (a unique prefix is enough; `{LAST}` is the newest run)")
    s.add_argument("--db", help="run store path (default $GREENLOOP_DB or the user data dir)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--diff", action="store_true", help="print only the best attempt's diff (repo mode: `| git apply`)")
    s.set_defaults(handler=show_run)


def open_store(db: str | None) -> Store:
    """The store named by --db (or the default), failing with StoreError (exit 2) when it cannot be opened."""
    return Store(db)


def find_run(store: Store, ref: str) -> RunRow:
    """The run `ref` names (an id, a unique prefix, or `last`), or a StoreError saying what to do."""
    run = store.run_row(ref)
    if run is not None:
        return run
    if ref == LAST:
        raise StoreError(f"no runs in {store.path} yet; start one with `greenloop solve`")
    raise StoreError(f"no run {ref!r} in {store.path}; list them with `greenloop runs`")


def _started(created: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))


def list_runs(args: argparse.Namespace) -> int:
    if args.limit < 1:
        return fail(args, "--limit must be at least 1")
    try:
        store = open_store(args.db)
    except StoreError as exc:
        return fail(args, str(exc))
    rows = store.run_rows(args.limit)
    if args.json:
        print(json.dumps([_run_json(r) for r in rows]))
        return 0
    cells = [
        (r.id, _started(r.created), r.status, f"{r.tests_passed}/{r.tests_total}", str(r.model_calls),
         str(r.prompt_tokens + r.completion_tokens), f"{r.cost:.4f}", f"{r.seconds:.1f}", r.model, r.target or "")
        for r in rows
    ]
    if not sys.stdout.isatty():
        # For scripts: `greenloop show $(greenloop runs | head -1 | cut -f1)`. Tabs and newlines inside a field
        # would break the columns, so they are escaped like other control characters.
        for row in cells:
            print("\t".join(terminal_safe(c).replace("\t", "\\t").replace("\n", "\\n") for c in row))
        return 0
    if not rows:
        print(f"no runs in {store.path} yet", file=sys.stderr)
        return 0
    table = Table()
    # The id is what a person copies: never shortened, however narrow the terminal (other columns give way).
    table.add_column(TSV_COLUMNS[0], no_wrap=True, min_width=max(len(r.id) for r in rows))
    for name in TSV_COLUMNS[1:]:
        table.add_column(name)
    for row in cells:
        table.add_row(*(escape(terminal_safe(c)) for c in row))
    Console().print(table)
    return 0


def _run_json(r: RunRow) -> dict[str, Any]:
    return {k: getattr(r, k) for k in r.__dataclass_fields__}


def _attempt_json(a: AttemptRow) -> dict[str, Any]:
    return {k: getattr(a, k) for k in a.__dataclass_fields__}


def show_run(args: argparse.Namespace) -> int:
    try:
        store = open_store(args.db)
        run = find_run(store, args.run_id)
    except StoreError as exc:
        return fail(args, str(exc))
    attempts = store.attempt_rows(run.id)
    best = next((a for a in attempts if a.id == run.best_attempt), None)
    if args.diff:
        if best is None or not best.code:
            return fail(args, f"run {run.id} has no attempt with a change", 1)
        # Raw on purpose: this is for `| git apply`, and a terminal is not where it is meant to go.
        sys.stdout.write(best.code if not sys.stdout.isatty() else terminal_safe(best.code))
        return 0
    if args.json:
        # json.dumps escapes every control character (\u001b), so candidate text cannot act on a terminal.
        print(json.dumps({"run": _run_json(run), "attempts": [_attempt_json(a) for a in attempts],
                          "best_code": best.code if best else None}))
        return 0
    console = Console()

    def safe(value: object) -> str:
        return escape(terminal_safe(str(value)))

    console.print(f"[bold]run {safe(run.id)}[/] · {safe(run.status)} · {safe(run.message)}", highlight=False)
    console.print(f"model {safe(run.model)} · strategy {safe(run.strategy)} · target {safe(run.target)}"
                  + (f" · python {safe(run.python)}" if run.python else "")
                  + (f" · cost ${run.cost:.4f}" if run.cost else ""), highlight=False)
    for a in attempts:
        marker = "[green]green[/]" if a.green else f"{a.passed}/{a.total}"
        extra = ((f" · judge {safe(a.judge)}" if a.judge else "") + (f" · ${a.cost:.4f}" if a.cost else "")
                 + (f" · {a.retries} retried" if a.retries else ""))
        parent = f" ← {a.parent}" if a.parent is not None else ""
        console.print(f"\n[bold]attempt {a.n}[/]{parent} ({safe(a.kind)}) · {marker} · "
                      f"{a.prompt_tokens + a.completion_tokens} tokens · model {a.model_seconds:.2f}s · "
                      f"exec {a.exec_seconds * 1000:.0f}ms{extra}", highlight=False)
        if a.feedback:
            console.print(terminal_safe(a.feedback), markup=False, highlight=False)
    if best is not None and best.code:
        console.print(f"\n[bold]best code[/] (attempt {best.n}, {best.passed}/{best.total}):")
        console.print(Syntax(terminal_safe(best.code), "diff" if run.kind == "fix" else "python"))
    return 0
