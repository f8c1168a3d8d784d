"""`greenloop report`: the HTML file as a person sees it, in a real headless Chromium (Debian's `chromium`).

The runs are made by the real CLI (scripted model, real sandbox, real store); the page is opened from
disk with every network request refused, so the file must work offline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import GOOD, PARTIAL, fenced
from greenloop.store import AttemptRecord, Store

CHROMIUM = os.environ.get("GREENLOOP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium driven by Playwright; `make test` installs Debian's (`make browser`)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"chromium not found at {CHROMIUM}: `make browser` installs it")
        pytest.skip("chromium is not installed (`make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: Chromium refuses to run as root with its own sandbox (CI runs as root).
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def greenloop(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "greenloop", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, check=False, stdin=subprocess.DEVNULL)


# The first candidate carries markup in a comment: the report must show it as text, never run it.
HOSTILE = "def slugify(text):\n    # </pre><script>window.pwned = 1</script><img src=x onerror='window.pwned=2'>\n    return text\n"


def offline_page(browser, path: Path):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []

    def refuse(route) -> None:  # type: ignore[no-untyped-def]
        requests.append(route.request.url)
        route.abort()

    page.route("http*://**", refuse)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    return page, requests, errors


def legend(page, figure: str) -> list[str]:  # type: ignore[no-untyped-def]
    return list(page.locator(f'[data-figure="{figure}"] .legendtext').all_text_contents())


def points(page, figure: str, trace: int = 0) -> int:  # type: ignore[no-untyped-def]
    """Markers drawn for one trace of one figure: what a person counts on the plot."""
    return int(page.locator(f'[data-figure="{figure}"] .scatterlayer .trace').nth(trace).locator("path.point").count())


def test_run_report_plots_each_attempt_and_shows_its_diff_on_click(workspace: Path, script, browser,
                                                                    tmp_path: Path) -> None:
    model = script(fenced(HOSTILE), fenced(PARTIAL), fenced(GOOD))
    # revise: one call at a time, each revising the last, so the lineage is a chain of three
    solved = greenloop("solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db",
                       "--strategy", "revise", "--model", model, "--json", cwd=workspace)
    run_id = json.loads(solved.stdout)["run_id"]
    proc = greenloop("report", "last", "--db", "runs.db", "-o", "out/report.html", cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "out/report.html"
    page, requests, errors = offline_page(browser, workspace / "out" / "report.html")
    page.wait_for_selector('[data-figure="by-attempt"] path.point')
    assert run_id in page.inner_text("h1")
    assert points(page, "by-attempt") == 3 and points(page, "by-time") == 3
    assert legend(page, "by-attempt") == ["tests passed", "best so far", "parent → child"]
    assert page.locator('[data-figure="tests"] .heatmaplayer').count() == 1
    assert page.locator("tr.attempt").count() == 3

    second = page.locator("tr.detail").nth(1)
    assert not second.is_visible()
    page.locator("tr.attempt").nth(1).click()
    assert second.is_visible()
    # The parent's hostile comment is shown as a removed line of text, not run as markup.
    assert second.locator(".diff .del").all_inner_texts() == [
        "-    # </pre><script>window.pwned = 1</script><img src=x onerror='window.pwned=2'>", "-    return text"]
    assert second.locator(".diff .add").all_inner_texts() == ['+    return "-".join(text.lower().split())']
    assert second.locator(".test.passed").count() == 3 and second.locator(".test.error").count() == 1
    assert "test_rejects_none" in second.locator(".feedback").inner_text()
    assert page.evaluate("window.pwned") is None
    assert not page.locator("tr.detail").nth(0).is_visible()  # only the clicked one opened
    assert requests == [] and errors == []
    page.close()


def test_tree_lineage_is_drawn_from_parent_to_child(tmp_path: Path, browser) -> None:
    store = Store(tmp_path / "runs.db")
    run_id = store.start_run(kind="solve", tests_path="t.py", target="m.py", spec="", model="m", strategy="tree",
                             budget={})
    parents = [None, 1, 1, 2, 3]
    for n, parent in enumerate(parents, start=1):
        store.add_attempt(run_id, AttemptRecord(n, "model", [], "", f"x = {n}\n", None, n - 1, 5, False, "f", 1, 1,
                                                0.1, 0.01, parent=parent, cost=0.001, judge="split"))
    store.close()
    out = tmp_path / "r.html"
    assert greenloop("report", run_id, "--db", "runs.db", "-o", str(out), cwd=tmp_path).returncode == 0
    page, _, errors = offline_page(browser, out)
    page.wait_for_selector('[data-figure="by-attempt"] path.point')
    assert points(page, "by-attempt") == 5
    assert "parent → child" in legend(page, "by-attempt")
    # One line per edge: four parent → child segments, separated by gaps.
    edges = page.locator('[data-figure="by-attempt"] .scatterlayer .trace').nth(2).locator("path.js-line")
    assert edges.count() == 4
    page.locator("tr.attempt").nth(3).click()
    assert "Diff against attempt 2" in page.locator("tr.detail").nth(3).inner_text()
    assert "split" in page.locator("tr.attempt").nth(3).inner_text()
    assert "$0.0050" in page.inner_text("#summary")  # cost summed over attempts
    assert errors == []
    page.close()


def test_bench_report_puts_benches_on_one_plot_and_links_each_problem_to_its_run(tmp_path: Path, browser) -> None:
    ids = []
    for strategy in ("single", "revise"):
        proc = greenloop("bench", "humaneval", "--model", "canonical", "--problems", "0-2", "--strategy", strategy,
                         "--max-calls", "4", "--db", "runs.db", "--json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        ids.append(json.loads(proc.stdout)["bench_id"])
    out = tmp_path / "bench.html"
    proc = greenloop("report", "--bench", *ids, "--db", "runs.db", "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page, requests, errors = offline_page(browser, out)
    page.wait_for_selector('[data-figure="curves"] path.point')
    names = legend(page, "curves")
    assert len(names) == 2 and names[0].startswith("single") and names[1].startswith("revise")
    assert points(page, "curves", 0) == 4 and points(page, "curves", 1) == 4  # N = 1..4 calls
    rows = page.locator("#problems tbody tr")
    assert rows.count() == 3 and rows.nth(0).locator("a").count() == 2
    link = rows.nth(2).locator("a").nth(1)
    assert link.inner_text().strip() == "solved"
    target = link.get_attribute("href")
    assert target is not None and target.startswith("#run-")
    link.click()
    assert page.locator(f'[id="{target[1:]}"]').is_visible()
    assert requests == [] and errors == []
    page.close()


def test_report_bad_input(tmp_path: Path, workspace: Path, script) -> None:
    def one_line(proc: subprocess.CompletedProcess[str], needle: str) -> None:
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("greenloop: ") and needle in lines[0], proc.stderr

    one_line(greenloop("report", "last", "--db", "empty.db", cwd=tmp_path), "no runs in")
    one_line(greenloop("report", "--bench", "last", "--db", "empty.db", cwd=tmp_path), "no benches in")
    one_line(greenloop("report", "nope", "--db", "empty.db", cwd=tmp_path), "no run 'nope'")
    one_line(greenloop("report", "--bench", "bench-nope", "--db", "empty.db", cwd=tmp_path), "no bench 'bench-nope'")
    one_line(greenloop("report", "--db", "empty.db", cwd=tmp_path), "give one of")
    one_line(greenloop("report", "last", "--serve", "--db", "empty.db", cwd=tmp_path), "give one of")
    (tmp_path / "garbage.db").write_text("not sqlite\n" * 200)
    one_line(greenloop("report", "last", "--db", "garbage.db", cwd=tmp_path), "cannot open the run store")
    greenloop("solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db", "--model",
              script(fenced(GOOD)), cwd=workspace)
    (workspace / "blocker").write_text("a file, not a folder")
    one_line(greenloop("report", "last", "--db", "runs.db", "-o", "blocker/r.html", cwd=workspace), "cannot write")
    assert sorted(p.name for p in workspace.iterdir() if p.suffix in (".html", ".tmp")) == []


def test_repo_mode_attempts_show_their_own_diff_and_judge(tmp_path: Path) -> None:
    from greenloop.report.data import load_run
    from greenloop.report.render import run_page

    store = Store(tmp_path / "runs.db")
    run_id = store.start_run(kind="fix", tests_path="pytest -x", target="", spec="", model="m", strategy="revise",
                             budget={}, python="/usr/bin/python3")
    diff = "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    outcome = {"tests": [{"test_id": "tests/test_mod.py::test_x", "status": "passed"}], "judge": "shared"}
    store.add_attempt(run_id, AttemptRecord(1, "model", [], "", diff, outcome, 1, 1, True, "", 1, 1, 0.1, 0.2))
    view = load_run(store, "last")
    assert view.attempts[0].diff_against == "the repository"
    assert [(d.kind, d.text) for d in view.attempts[0].diff][-2:] == [("del", "-x = 1"), ("add", "+x = 2")]
    assert view.judges == ["shared"]
    html = run_page(view)
    assert '<div class="add">+x = 2</div>' in html and "python <span class=\"mono\">/usr/bin/python3</span>" in html
    store.close()
