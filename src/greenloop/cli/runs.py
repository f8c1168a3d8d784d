"""`greenloop runs` and `greenloop show`: read the run store."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from greenloop.store import Store, StoreError


def register(commands: Any) -> None:
    p = commands.add_parser("runs", help="list recorded runs")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--db", help="run store path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_runs)
    s = commands.add_parser("show", help="show a run's attempts, feedback and best code")
    s.add_argument("run_id", help="run id (a unique prefix is enough)")
    s.add_argument("--db", help="run store path")
    s.add_argument("--json", action="store_true")
    s.add_argument("--diff", action="store_true", help="print only the best attempt's diff (repo mode: `| git apply`)")
    s.set_defaults(handler=show_run)


def _open(args: argparse.Namespace) -> Store | None:
    try:
        return Store(args.db)
    except StoreError as exc:
        print(f"greenloop: {exc}", file=sys.stderr)
        return None


def list_runs(args: argparse.Namespace) -> int:
    store = _open(args)
    if store is None:
        return 2
    rows = store.runs(args.limit)
    if args.json:
        print(json.dumps(rows))
        return 0
    table = Table("run", "started", "status", "tests", "calls", "tokens", "seconds", "model", "target")
    for r in rows:
        table.add_row(
            r["id"], time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created"])), r["status"],
            f"{r['tests_passed']}/{r['tests_total']}", str(r["model_calls"]),
            f"{r['prompt_tokens'] + r['completion_tokens']:,}", f"{r['seconds']:.1f}", r["model"], r["target"] or "",
        )
    Console().print(table)
    return 0


def show_run(args: argparse.Namespace) -> int:
    store = _open(args)
    if store is None:
        return 2
    run = store.find_run(args.run_id)
    if run is None:
        print(f"greenloop: no run {args.run_id!r} in {store.path}; list them with `greenloop runs`", file=sys.stderr)
        return 2
    attempts = store.attempts(run["id"])
    best = next((a for a in attempts if a["id"] == run["best_attempt"]), None)
    if args.diff:
        if best is None or not best["code"]:
            print(f"greenloop: run {run['id']} has no attempt with a change", file=sys.stderr)
            return 1
        sys.stdout.write(best["code"])
        return 0
    if args.json:
        print(json.dumps({"run": run, "attempts": attempts, "best_code": best["code"] if best else None}))
        return 0
    console = Console()
    console.print(f"[bold]run {run['id']}[/] · {run['status']} · {run['message']}")
    console.print(f"model {run['model']} · strategy {run['strategy']} · target {run['target']}")
    for a in attempts:
        marker = "[green]green[/]" if a["green"] else f"{a['passed']}/{a['total']}"
        console.print(f"\n[bold]attempt {a['n']}[/] ({a['kind']}) · {marker} · "
                      f"{a['prompt_tokens'] + a['completion_tokens']} tokens · model {a['model_seconds']:.2f}s · "
                      f"exec {a['exec_seconds'] * 1000:.0f}ms")
        if a["feedback"]:
            console.print(a["feedback"], markup=False, highlight=False)
    if best is not None and best["code"]:
        console.print(f"\n[bold]best code[/] (attempt {best['n']}, {best['passed']}/{best['total']}):")
        console.print(Syntax(best["code"], "diff" if run["kind"] == "fix" else "python"))
    return 0
