"""The report's figures, built with Plotly and handed to the page as JSON (plotly.js draws them offline).

Each function returns a figure as a plain dict (`data` + `layout`). Candidate text never goes into a
figure: hover labels hold numbers and the user's own test ids only.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from greenloop.report.data import BenchView, RunView

STATUS_CODES = {"passed": 1.0, "failed": 0.0, "error": 0.25, "timeout": 0.5, "not-run": 0.75, "skipped": 0.9}
GREEN, RED, GREY = "#2e9e4f", "#d1495b", "#8d99ae"


def _layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title, "x": 0.01}, "xaxis": {"title": {"text": x}}, "yaxis": {"title": {"text": y}},
            "template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "height": 340,
            "legend": {"orientation": "h", "y": -0.25}, **extra}


def _attempt_axis(view: RunView) -> dict[str, Any]:
    """Whole attempt numbers on the x axis, about a dozen ticks however long the run."""
    return {"title": {"text": "attempt"}, "tick0": 1, "dtick": max(1, -(-len(view.attempts) // 12))}


def _dict(fig: go.Figure) -> dict[str, Any]:
    out: dict[str, Any] = fig.to_plotly_json()
    return out


def convergence(view: RunView, over: str) -> dict[str, Any]:
    """Tests passed per attempt (one marker each), the best so far, and parent → child edges.

    `over` is "attempts" (x = attempt number) or "time" (x = seconds since the run started).
    """
    attempts = view.attempts
    xs = [a.row.n if over == "attempts" else round(a.at, 3) for a in attempts]
    x_of = {a.row.n: x for a, x in zip(attempts, xs, strict=True)}
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=xs, y=[a.row.passed for a in attempts], mode="markers", name="tests passed",
        marker={"size": 8, "color": [GREEN if a.row.green else RED for a in attempts]},
        customdata=[a.row.n for a in attempts],
        hovertemplate="attempt %{customdata}: %{y} passed<extra></extra>",
    ))
    fig.add_trace(go.Scatter(x=xs, y=[a.best_so_far for a in attempts], mode="lines", name="best so far",
                             line={"shape": "hv", "color": GREEN, "width": 2}, hoverinfo="skip"))
    if view.lineage:
        ex: list[float | None] = []
        ey: list[int | None] = []
        passed = {a.row.n: a.row.passed for a in attempts}
        for a in attempts:
            if a.row.parent is not None and a.row.parent in x_of:
                ex += [x_of[a.row.parent], x_of[a.row.n], None]
                ey += [passed[a.row.parent], a.row.passed, None]
        fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", name="parent → child", hoverinfo="skip",
                                 line={"color": GREY, "width": 1}, opacity=0.6))
    total = max([view.run.tests_total] + [a.row.total for a in attempts] + [1])
    x_title = "attempt" if over == "attempts" else "seconds since the run started"
    fig.update_layout(**_layout(f"Tests passed over {over}", x_title, "tests passed",
                                yaxis={"range": [-0.3, total + 0.3], "title": {"text": "tests passed"}}))
    if over == "attempts":
        fig.update_layout(xaxis=_attempt_axis(view))
    return _dict(fig)


def timing(view: RunView) -> dict[str, Any]:
    """Model time against execution time, per attempt."""
    ns = [a.row.n for a in view.attempts]
    fig = go.Figure([
        go.Bar(x=ns, y=[round(a.row.model_seconds, 4) for a in view.attempts], name="model", marker_color="#4361ee"),
        go.Bar(x=ns, y=[round(a.row.exec_seconds, 4) for a in view.attempts], name="execution", marker_color="#f4a261"),
    ])
    fig.update_layout(**_layout("Model time and execution time", "attempt", "seconds", barmode="stack",
                                xaxis=_attempt_axis(view)))
    return _dict(fig)


def tokens(view: RunView) -> dict[str, Any]:
    """Prompt and completion tokens per attempt, and the cost so far (USD) where prices are known."""
    ns = [a.row.n for a in view.attempts]
    fig = go.Figure([
        go.Bar(x=ns, y=[a.row.prompt_tokens for a in view.attempts], name="prompt tokens", marker_color="#90be6d"),
        go.Bar(x=ns, y=[a.row.completion_tokens for a in view.attempts], name="completion tokens",
               marker_color="#277da1"),
    ])
    running, cumulative = 0.0, []
    for a in view.attempts:
        running += a.row.cost
        cumulative.append(round(running, 6))
    extra: dict[str, Any] = {"barmode": "stack", "xaxis": _attempt_axis(view)}
    if running > 0:
        fig.add_trace(go.Scatter(x=ns, y=cumulative, name="cost so far (USD)", yaxis="y2", mode="lines",
                                 line={"color": "#f94144"}))
        extra["yaxis2"] = {"title": {"text": "USD"}, "overlaying": "y", "side": "right", "rangemode": "tozero"}
    fig.update_layout(**_layout("Tokens and cost", "attempt", "tokens", **extra))
    return _dict(fig)


def test_grid(view: RunView) -> dict[str, Any]:
    """Which test passed in which attempt: a test × attempt heatmap, so a flip shows as a colour change."""
    ns = [a.row.n for a in view.attempts]
    index = {t: i for i, t in enumerate(view.test_ids)}
    z: list[list[float | None]] = [[None] * len(ns) for _ in view.test_ids]
    labels: list[list[str]] = [[""] * len(ns) for _ in view.test_ids]
    for col, a in enumerate(view.attempts):
        for t in a.row.tests:
            row = index[str(t.get("test_id", ""))]
            status = str(t.get("status", ""))
            z[row][col] = STATUS_CODES.get(status, 0.0)
            labels[row][col] = status
    scale = [[0.0, RED], [0.2, RED], [0.2, "#e76f51"], [0.4, "#e76f51"], [0.4, "#e9c46a"], [0.6, "#e9c46a"],
             [0.6, GREY], [0.8, GREY], [0.8, "#adb5bd"], [0.95, "#adb5bd"], [0.95, GREEN], [1.0, GREEN]]
    fig = go.Figure(go.Heatmap(
        x=ns, y=view.test_ids, z=z, text=labels, zmin=0, zmax=1, colorscale=scale, showscale=False, xgap=1, ygap=1,
        hovertemplate="attempt %{x}<br>%{y}: %{text}<extra></extra>",
    ))
    key = (f"<span style='color:{GREEN}'>passed</span> · <span style='color:{RED}'>failed</span> · "
           "<span style='color:#e76f51'>error</span> · <span style='color:#e9c46a'>timeout</span> · "
           f"<span style='color:{GREY}'>not run</span> · blank: no test ran")
    layout = _layout(f"Each test in each attempt <span style='font-size:12px'>({key})</span>", "attempt", "")
    layout["height"] = max(220, 60 + 22 * len(view.test_ids))
    layout["yaxis"] = {"automargin": True, "autorange": "reversed"}
    layout["xaxis"] = _attempt_axis(view)
    fig.update_layout(**layout)
    return _dict(fig)


def run_figures(view: RunView) -> dict[str, dict[str, Any]]:
    return {"by-attempt": convergence(view, "attempts"), "by-time": convergence(view, "time"),
            "timing": timing(view), "tokens": tokens(view), "tests": test_grid(view)}


def bench_curves(benches: list[BenchView]) -> dict[str, Any]:
    """Share of problems solved within N model calls: one line per bench, strategy against strategy."""
    fig = go.Figure()
    for b in benches:
        xs, ys = b.curve()
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if len(xs) <= 60 else "lines", name=b.label,
                                 line={"shape": "hv"},
                                 hovertemplate="≤ %{x} calls: %{y}% solved<extra></extra>"))
    fig.update_layout(**_layout("Solved within N model calls", "model calls", "% of problems solved",
                                yaxis={"range": [0, 100], "title": {"text": "% of problems solved"}}))
    return _dict(fig)
