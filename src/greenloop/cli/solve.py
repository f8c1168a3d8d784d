"""`greenloop solve`: write a module until its pytest file passes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.markup import escape

from greenloop.cli.common import add_max_calls, fail, terminal_safe
from greenloop.cli.progress import LoopDisplay
from greenloop.errors import GreenloopError, exit_code
from greenloop.loop.engine import Progress, RunStatus
from greenloop.loop.strategies import STRATEGIES
from greenloop.registry import parse_settings
from greenloop.solver import solve
from greenloop.task import Budget


def register(commands: Any) -> None:
    p = commands.add_parser("solve", help="write --target until the tests in --tests pass")
    p.add_argument("--tests", required=True, help="pytest file that imports the target module")
    p.add_argument("--target", required=True, help="module file to write, e.g. slugger.py (may hold a stub)")
    spec = p.add_mutually_exclusive_group()
    spec.add_argument("--spec", default="", help="what the module should do, in words")
    spec.add_argument("--spec-file", help="file holding the spec")
    p.add_argument("--model", default="local", help="local | local:PATH.gguf | openai:MODEL | anthropic:MODEL | scripted:PATH")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL or OpenAI)")
    add_max_calls(p, 50)
    p.add_argument("--max-seconds", type=float, default=600, help="wall-clock budget (default 600)")
    p.add_argument("--max-cost", type=float, metavar="USD", help="stop once the model calls cost this much (US dollars)")
    p.add_argument("--parallel", type=int, metavar="N", help="model calls in flight at once (default: what the model serves)")
    p.add_argument("--strategy", default="tree", help=f"search strategy: {' | '.join(STRATEGIES.names())} (default tree, the best measured)")
    p.add_argument("--set", dest="settings", action="append", metavar="KEY=VALUE",
                   help="a strategy parameter, e.g. --set width=4 (repeatable)")
    p.add_argument("--workers", type=int, default=1, help="sandbox workers (default 1)")
    p.add_argument("--seed", type=int, default=0, help="base sampling seed")
    p.add_argument("--write-best", action="store_true", help="write the best candidate even when not green")
    p.add_argument("--db", help="run store path (default $GREENLOOP_DB or the user data dir)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of progress")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    display = LoopDisplay(console, enabled=not args.json, starting="starting: loading the model and warming the sandbox")

    def progress(p: Progress) -> None:
        display.update(p)

    try:
        budget = Budget(args.max_calls, args.max_seconds, args.max_cost)
        with display:
            result = solve(
                args.tests, args.target, spec=args.spec, spec_file=args.spec_file, model=args.model,
                base_url=args.base_url, budget=budget, db=args.db, strategy=args.strategy,
                strategy_params=parse_settings(args.settings),
                write_best=args.write_best, workers=args.workers, seed=args.seed, on_progress=progress,
                parallel=args.parallel,
            )
    except GreenloopError as exc:
        return fail(args, str(exc), exit_code(exc))
    if args.json:
        print(json.dumps(result.to_json(args.target)))
    else:
        colour = "green" if result.status is RunStatus.GREEN else "yellow"
        console.print(
            f"[{colour}]{result.status.value}[/]: {escape(terminal_safe(result.message))} · best "
            f"{result.tests_passed}/{result.tests_total} "
            f"tests · {result.model_calls} model calls · {result.prompt_tokens + result.completion_tokens:,} tokens "
            + (f"· ${result.cost:.4f} " if result.cost else "") + f"· {result.seconds:.1f}s · run {result.run_id}"
        )
        if result.status is RunStatus.GREEN:
            console.print(f"wrote {args.target}")
        elif result.best_code is not None:
            written = "written anyway (--write-best)" if args.write_best else "kept in the run store"
            console.print(f"best candidate {written}: greenloop show {result.run_id}")
    return {RunStatus.GREEN: 0, RunStatus.EXHAUSTED: 1, RunStatus.INTERRUPTED: 130, RunStatus.ERROR: 3}[result.status]
