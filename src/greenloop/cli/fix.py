"""`greenloop fix`: edit the git repository you are in until a test command passes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from greenloop.cli.common import add_max_calls, fail, progress_line, terminal_safe
from greenloop.errors import BadInput
from greenloop.execute import ExecutorError, Limits
from greenloop.loop.engine import RunStatus
from greenloop.loop.result import Progress
from greenloop.loop.strategies import STRATEGIES
from greenloop.models import ModelError
from greenloop.registry import parse_settings
from greenloop.repo import fix
from greenloop.repo.api import DEFAULT_STRATEGY, USAGE
from greenloop.repo.apply import APPLY_HINT
from greenloop.repo.options import plural
from greenloop.store import StoreError
from greenloop.task import Budget, TaskError


def register(commands: Any) -> None:
    p = commands.add_parser(
        "fix", help="edit this git repository until a test command passes",
        usage="greenloop fix [options] -- TEST COMMAND ...",
        description="Edit the git repository you are in until the test command after -- passes. The loop works in "
                    "a private copy; your tree changes only when the command is green.",
    )
    p.add_argument("--files", nargs="+", default=[], metavar="FILE", help="files to show the model first")
    p.add_argument("--model", default="local", help="local | local:PATH.gguf | openai:MODEL | anthropic:MODEL | scripted:PATH")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL or OpenAI)")
    add_max_calls(p, 30)
    p.add_argument("--max-seconds", type=float, default=900, help="wall-clock budget (default 900)")
    p.add_argument("--max-cost", type=float, metavar="USD", help="stop once the model calls cost this much (US dollars)")
    p.add_argument("--parallel", type=int, metavar="N", help="model calls in flight at once (default: what the model "
                   "serves)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="candidates tested at once, each in its own copy of the repository (default 1)")
    p.add_argument("--strategy", default=DEFAULT_STRATEGY,
                   help=f"search strategy: {' | '.join(STRATEGIES.names())} (default auto: tree for a small local "
                        "model, revise for others, as measured)")
    p.add_argument("--set", dest="settings", action="append", metavar="KEY=VALUE",
                   help="a strategy parameter, e.g. --set width=4 (repeatable)")
    p.add_argument("--timeout", type=float, default=120, help="seconds one run of the test command may take (default 120)")
    p.add_argument("--edit-format", default="auto", choices=["auto", "diff", "whole"],
                   help="diff: SEARCH/REPLACE blocks; whole: code blocks merged by definition (default: by model)")
    p.add_argument("--context-tokens", type=int, help="token budget for the files shown (default: by model)")
    p.add_argument("--commit", action="store_true", help="on green, commit the change on the current branch")
    p.add_argument("--python", metavar="PATH", help="the project's interpreter (default: $VIRTUAL_ENV, .venv/ or "
                   "venv/ in the repository, else python on PATH)")
    p.add_argument("--env", action="append", default=[], metavar="NAME[=VALUE]",
                   help="pass an environment variable to the test command (repeatable); nothing else enters")
    p.add_argument("--allow", action="append", default=[], metavar="GLOB",
                   help="let a fix change paths matching GLOB beyond the code the failing tests reach (repeatable)")
    p.add_argument("-m", "--message", default="", help="the task in words, for the model")
    p.add_argument("--message-file", metavar="FILE", help="read the task from FILE")
    p.add_argument("--dry-run", action="store_true", help="print the verified diff; change nothing")
    p.add_argument("--confirm", action="store_true", help="show the verified diff and ask before applying")
    p.add_argument("--seed", type=int, default=0, help="base sampling seed")
    p.add_argument("--db", help="run store path (default $GREENLOOP_DB or the user data dir)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of progress")
    p.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    if not args.command:
        return fail(args, USAGE)
    status = None if args.json else console.status("starting: copying the repository and collecting the tests")
    shown: list[tuple[str, ...]] = []

    def progress(p: Progress) -> None:
        if status is None:
            return
        if not shown:
            shown.append(())
            console.print(f"tests run with {p.python}", highlight=False)
        if p.context and (not shown or shown[-1] != p.context):
            shown.append(p.context)
            console.print(f"context for the model: {', '.join(p.context)}", highlight=False)
        status.update(progress_line(p))

    def confirm(diff: str) -> bool:
        if status is not None:
            status.stop()
        print(terminal_safe(diff), flush=True)  # the change is untrusted: an escape could hide a line of it
        return input("apply this change? [y/N] ").strip().lower() in ("y", "yes")

    try:
        if args.confirm and not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise TaskError("--confirm needs a terminal to ask on; use --dry-run to only see the change")
        message = args.message
        if args.message_file:
            try:
                message = Path(args.message_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TaskError(f"--message-file: cannot read {args.message_file}: {exc}") from None
        budget = Budget(args.max_calls, args.max_seconds, args.max_cost)
        if args.timeout <= 0:
            raise TaskError("--timeout must be positive")
        limits = Limits(timeout=args.timeout, cpu_seconds=int(args.timeout) + 1, memory_mb=4096, max_processes=64,
                        file_size_mb=64)
        if status is not None:
            status.start()
        try:
            result = fix(
                args.command, files=args.files, model=args.model, base_url=args.base_url, budget=budget, db=args.db,
                commit=args.commit, limits=limits, seed=args.seed, edit_format=args.edit_format,
                context_tokens=args.context_tokens, on_progress=progress, python=args.python, env=args.env,
                allow=args.allow, message=message, dry_run=args.dry_run, confirm=confirm if args.confirm else None,
                strategy=args.strategy, strategy_params=parse_settings(args.settings), parallel=args.parallel,
                workers=args.workers,
            )
        finally:
            if status is not None:
                status.stop()
    except (BadInput, ModelError, StoreError) as exc:
        return fail(args, str(exc))
    except (ExecutorError, RuntimeError) as exc:
        return fail(args, str(exc), 3)
    if args.dry_run and result.diff and result.status is RunStatus.GREEN:
        stream = sys.stderr if args.json else sys.stdout
        # Escaped for a terminal (an escape sequence could hide a line of the change); piped to
        # `git apply` the patch stays byte-exact.
        text = terminal_safe(result.diff) if stream is sys.stderr or stream.isatty() else result.diff
        print(text, end="" if result.diff.endswith("\n") else "\n", file=stream)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        colour = "green" if result.status is RunStatus.GREEN else "yellow"
        console.print(
            f"[{colour}]{result.status.value}[/]: {result.message} · best {result.tests_passed}/{result.tests_total} "
            f"tests · {plural(result.model_calls, 'model call')} · {result.prompt_tokens + result.completion_tokens:,} tokens "
            f"· {result.seconds:.1f}s · run {result.run_id}", highlight=False,
        )
        if result.status is not RunStatus.GREEN:
            where = (f"best attempt: greenloop show {result.run_id} --diff (paths from the repository root; to "
                     f"take it: ... | {APPLY_HINT})" if result.diff
                     else "no attempt produced a change")
            console.print(f"your working tree is unchanged; {where}", highlight=False)
    if result.status is RunStatus.GREEN:
        return 0 if result.applied or not result.changed_files or args.dry_run else 1
    return {RunStatus.EXHAUSTED: 1, RunStatus.INTERRUPTED: 130, RunStatus.ERROR: 3}[result.status]
