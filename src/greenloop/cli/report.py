"""`greenloop report`: a run or benches as one self-contained HTML file, or the live view over the store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from greenloop.atomic import write_atomically
from greenloop.cli.common import fail
from greenloop.store import LAST, Store, StoreError

DEFAULT_PORT = 8765


def register(commands: Any) -> None:
    p = commands.add_parser(
        "report", help="an HTML report of a run or benches, or a live view of the run store",
        usage="greenloop report RUN|last [-o FILE]\n       greenloop report --bench ID [ID ...] [-o FILE]\n"
              "       greenloop report --serve [--port N]",
        description="Write one self-contained HTML file (works offline) for a run, or for one or several benches on "
                    "one plot; or serve a read-only live view of the run store on 127.0.0.1.",
    )
    p.add_argument("run_id", nargs="?", help=f"run id (a unique prefix is enough; `{LAST}` is the newest run)")
    p.add_argument("--bench", nargs="+", metavar="ID", help=f"bench ids (`{LAST}` is the newest bench)")
    p.add_argument("-o", "--output", help="HTML file to write (default greenloop-report-ID.html here)")
    p.add_argument("--serve", action="store_true", help="serve the live view on 127.0.0.1 until Ctrl-C")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"live view port (default {DEFAULT_PORT}; 0 picks one)")
    p.add_argument("--db", help="run store path (default $GREENLOOP_DB or the user data dir)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    chosen = [name for name, on in (("RUN", args.run_id), ("--bench", args.bench), ("--serve", args.serve)) if on]
    if len(chosen) != 1:
        return fail(args, "give one of RUN (or `last`), --bench ID ..., --serve; e.g. `greenloop report last`")
    if args.serve:
        if args.output:
            return fail(args, "-o does not go with --serve: the live view writes no file")
        if not 0 <= args.port <= 65535:
            return fail(args, f"--port must be between 0 and 65535, not {args.port}")
        from greenloop.report.server import PortInUse, serve

        try:
            return serve(Path(args.db) if args.db else None, args.port)
        except (StoreError, PortInUse) as exc:
            return fail(args, str(exc))
    from greenloop.report.data import load_benches, load_run
    from greenloop.report.render import bench_page, run_page

    try:
        store = Store(args.db)
        try:
            if args.bench:
                benches = load_benches(store, args.bench)
                html = bench_page(store, benches, ",".join(b.bench.id for b in benches))
                name = "greenloop-report-" + "+".join(b.bench.id for b in benches) + ".html"
            else:
                view = load_run(store, args.run_id)
                html = run_page(view)
                name = f"greenloop-report-{view.run.id}.html"
        finally:
            store.close()
    except StoreError as exc:
        return fail(args, str(exc))
    output = Path(args.output) if args.output else Path(name)
    if output.is_dir():
        output = output / name
    try:
        write_atomically(output, html)
    except OSError as exc:
        return fail(args, f"cannot write {output}: {exc.strerror or exc}")
    print(output)
    return 0
