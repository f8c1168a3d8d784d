"""Render report pages from the store with Jinja2: the self-contained HTML files and the live view's pages.

Autoescaping is on: candidate code, output and feedback are shown as text, never as markup.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import jinja2

from greenloop.report import plots
from greenloop.report.data import AttemptView, BenchView, RunView, problem_table
from greenloop.rows import AttemptRow, RunRow
from greenloop.store import Store

POLL_MS = 1000  # how often a live page asks the server for news


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("greenloop.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    env.filters["when"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(t)))
    env.filters["seconds"] = _seconds
    env.filters["usd"] = lambda v: f"${float(v):.4f}" if v else "–"
    return env


def _seconds(value: float) -> str:
    value = float(value)
    if value >= 120:
        return f"{value / 60:.1f} min"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js as shipped inside the plotly package: inlined, so a report needs no network."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("greenloop")
    except PackageNotFoundError:
        return "dev"


def _common(live: bool) -> dict[str, Any]:
    return {"live": live, "plotly_js": "" if live else plotly_js(), "version": _version(), "generated": time.time(),
            "poll_ms": POLL_MS}


def run_page(view: RunView, *, live: bool = False) -> str:
    cursor = view.attempts[-1].row.n if view.attempts else 0
    return environment().get_template("run.html.j2").render(
        view=view, figures=plots.run_figures(view), cursor=cursor, **_common(live))


def run_summary(view: RunView) -> str:
    return environment().get_template("run_summary.html.j2").render(view=view)


def attempt_rows(attempts: list[AttemptView]) -> list[str]:
    macro = environment().get_template("attempt.html.j2").module.attempt_rows  # type: ignore[attr-defined]
    return [str(macro(a)) for a in attempts]


def _best(store: Store, run: RunRow) -> AttemptRow | None:
    if run.best_attempt is None:
        return None
    return next((a for a in store.attempt_rows(run.id) if a.id == run.best_attempt), None)


def bench_body(store: Store, benches: list[BenchView], *, live: bool) -> tuple[str, dict[str, Any]]:
    """The bench page's body and its figures. A file links each problem to its run's summary further down the
    page (a run's own report is `greenloop report RUN`); the live view links to the run's live page."""
    figures = {"curves": plots.bench_curves(benches)}
    runs: list[dict[str, Any]] = []
    run_href: Callable[[str | None], str]
    if live:
        def run_href(run_id: str | None) -> str:
            return f"/run/{run_id}" if run_id else "#"
    else:
        def run_href(run_id: str | None) -> str:
            return f"#run-{run_id}" if run_id else "#"
        ids = {p.run_id for b in benches for p in b.problems if p.run_id}
        for run_id in sorted(ids):
            run = store.run_row(run_id)
            if run is not None:
                runs.append({"run": run, "best": _best(store, run)})
    body = environment().get_template("bench_body.html.j2").render(
        benches=benches, table=problem_table(benches), figures=figures, run_href=run_href, runs=runs)
    return body, figures


def bench_page(store: Store, benches: list[BenchView], refs: str, *, live: bool = False) -> str:
    # The body is its own template because the live view re-sends it; rendered there, it is already escaped.
    body, _ = bench_body(store, benches, live=live)
    return environment().get_template("bench.html.j2").render(benches=benches, refs=refs, body=body, **_common(live))


def index_body(store: Store) -> str:
    return environment().get_template("index_body.html.j2").render(
        runs=store.run_rows(50), benches=store.bench_rows(20))


def index_page(store: Store) -> str:
    return environment().get_template("index.html.j2").render(
        runs=store.run_rows(50), benches=store.bench_rows(20), store_path=str(store.path), **_common(True))


