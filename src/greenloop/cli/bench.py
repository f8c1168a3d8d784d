"""`greenloop bench humaneval`: measure a strategy on HumanEval and record every problem's run."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console

from greenloop.benchmarks.api import bench
from greenloop.benchmarks.measure import ProblemResult, summary
from greenloop.benchmarks.registry import BENCHMARKS
from greenloop.cli.common import fail
from greenloop.cli.progress import BenchDisplay
from greenloop.errors import GreenloopError, exit_code
from greenloop.loop.strategies import STRATEGIES
from greenloop.registry import parse_settings


def register(commands: Any) -> None:
    p = commands.add_parser("bench", help="measure a strategy on a benchmark (HumanEval)")
    p.add_argument("benchmark", help=f"which benchmark: {' | '.join(BENCHMARKS.names())}")
    p.add_argument("--model", default="local",
                   help="local | local:PATH.gguf | openai:MODEL | anthropic:MODEL | canonical (the reference solutions)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL or OpenAI)")
    p.add_argument("--strategy", default="tree", help=f"{' | '.join(STRATEGIES.names())} (default tree)")
    p.add_argument("--set", dest="settings", action="append", metavar="KEY=VALUE",
                   help="a strategy parameter, e.g. --set width=4 (repeatable; part of the resume key)")
    p.add_argument("--max-calls", type=int, default=50, help="model calls per problem (default 50)")
    p.add_argument("--max-seconds", type=float, default=900, help="wall-clock budget per problem (default 900)")
    p.add_argument("--parallel", type=int, metavar="N", help="model calls in flight per problem (default: what the model serves)")
    p.add_argument("--problems", help="problem indices and ranges, e.g. 0-39 or 0-9,20")
    p.add_argument("--limit", type=int, help="only the first N of the selected problems")
    p.add_argument("--tests", default="full", help="full: the loop sees every test; visible: only the docstring's "
                   "examples, and the hidden tests decide (default full)")
    p.add_argument("--workers", type=int, default=1, help="sandbox workers per problem (default 1)")
    p.add_argument("--jobs", type=int, default=1, help="problems in flight at once (default 1)")
    p.add_argument("--seed", type=int, default=0, help="base sampling seed")
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming the same bench")
    p.add_argument("--db", help="run store path (default $GREENLOOP_DB or the user data dir)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", help="also write the JSON object to this file")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    display: BenchDisplay | None = None

    def progress(r: ProblemResult) -> None:
        if display is not None:
            verdict = "[green]solved[/]" if r.solved else "[yellow]unsolved[/]"
            how = " by repair" if r.green_kind == "repair" else ""
            display.finished(f"{r.problem:14s} {verdict}{how} · {r.calls} calls · tests {r.hidden_passed}/{r.hidden_total} "
                             f"· {r.seconds:.1f}s · run {r.run_id}", r.solved)

    try:
        chosen = BENCHMARKS.create(args.benchmark)
        display = BenchDisplay(console, len(chosen.select(chosen.problems(), args.problems, args.limit)),
                               enabled=not args.json)
        with display:
            run = bench(args.benchmark, model=args.model, base_url=args.base_url, strategy=args.strategy,
                        strategy_params=parse_settings(args.settings), max_calls=args.max_calls,
                        max_seconds=args.max_seconds, problems=args.problems, limit=args.limit, tests=args.tests,
                        seed=args.seed, workers=args.workers, jobs=args.jobs, db=args.db, fresh=args.fresh,
                        on_result=progress, on_start=display.expect,
                        parallel=args.parallel)
    except GreenloopError as exc:
        return fail(args, str(exc), exit_code(exc))
    data = summary(run)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
        except OSError as exc:
            return fail(args, f"cannot write {args.out}: {exc}")
    if args.json:
        print(json.dumps(data))
    else:
        _print_summary(data, Console())
    if run.interrupted:
        print("greenloop: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


def _print_summary(data: dict[str, Any], console: Console) -> None:
    share = f"{100 * data['model_share']:.1f}%"
    console.print(
        f"[bold]{data['benchmark']}[/] · strategy {data['strategy']} · model {data['model']} · tests {data['tests']} "
        f"· ≤{data['max_calls']} calls · bench {data['bench_id']}" + (f" ({data['resumed']} resumed)" if data["resumed"] else "")
    )
    console.print(
        f"solved {data['solved']}/{data['problems']} ({100 * data['pass_rate']:.1f}%) · {data['model_calls']} model calls "
        f"· median calls to green {data['median_calls_to_green']} · repair wins {data['repair_wins']} "
        f"({data['repairs_run']} repairs run) · {data['prompt_tokens'] + data['completion_tokens']:,} tokens "
        + (f"· ${data['cost']:.4f} " if data.get("cost") else "")
        + f"· {data['seconds']:.1f}s, {share} in the model", highlight=False)
    curve = "  ".join(f"≤{k}: {100 * v:.1f}%" for k, v in data["curve"].items())
    console.print(f"solved within N model calls: {curve}")
    if data["tests"] == "visible":
        agreement = data["hidden_agreement"]
        console.print(f"green on the visible examples: {data['loop_green']}/{data['problems']}; of those, "
                      f"{'-' if agreement is None else f'{100 * agreement:.1f}%'} also pass the hidden tests")
    console.print("inspect a problem's attempts: greenloop show RUN_ID")
