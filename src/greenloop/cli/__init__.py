"""The `greenloop` command line: one module per command group, dispatched from here.

Exit codes (greenloop.errors maps them): 0 green, 1 not green (budget ran out), 2 bad input, 3 the sandbox
or model failed during the run, 70 a bug in greenloop (the traceback goes to a log file), 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys

from greenloop import config
from greenloop.cli import bench, doctor, fix, report, runs, solve
from greenloop.cli.common import fail
from greenloop.errors import (
    EXIT_BAD_INPUT,
    EXIT_BUG,
    EXIT_FAILURE,
    EXIT_GREEN,
    EXIT_INTERRUPTED,
    EXIT_NOT_GREEN,
    GreenloopError,
    bug_message,
    exit_code,
)

__all__ = ["EXIT_BAD_INPUT", "EXIT_BUG", "EXIT_FAILURE", "EXIT_GREEN", "EXIT_INTERRUPTED", "EXIT_NOT_GREEN", "main"]


CONFIGURED = ("solve", "fix", "bench")  # the commands config files fill (greenloop.config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenloop", description="Turn tests into working code: generate, execute, test, revise until green.",
    )
    # `subcommand`: `fix` takes the test command as its positional `command`.
    commands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    solve.register(commands)
    fix.register(commands)
    runs.register(commands)
    bench.register(commands)
    report.register(commands)
    doctor.register(commands)
    return parser


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # end like Ctrl-C: record the run, write nothing half-done


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.subcommand in CONFIGURED:
            settings = config.load()
            config.apply(args, config.explicit(parser, sys.argv[1:] if argv is None else argv), settings)
            config.install_prices(settings)
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("greenloop: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except GreenloopError as exc:  # what a command did not handle itself: mapped here, in one place
        return fail(args, str(exc), exit_code(exc))
    except Exception as exc:  # noqa: BLE001 - a bug: said so, never passed off as a sandbox failure
        return fail(args, bug_message(exc), exit_code(exc))


def entry() -> None:
    sys.exit(main())
