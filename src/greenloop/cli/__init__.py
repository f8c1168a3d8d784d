"""The `greenloop` command line: one module per command group, dispatched from here.

Exit codes: 0 green, 1 not green (budget ran out), 2 bad input, 3 the sandbox or model failed
during the run, 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys

from greenloop.cli import bench, fix, runs, solve

EXIT_GREEN, EXIT_NOT_GREEN, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenloop", description="Turn tests into working code: generate, execute, test, revise until green.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    solve.register(commands)
    fix.register(commands)
    runs.register(commands)
    bench.register(commands)
    return parser


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # end like Ctrl-C: record the run, write nothing half-done


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("greenloop: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def entry() -> None:
    sys.exit(main())
