"""`greenloop report --serve`: the live view, served by the real CLI and watched in headless Chromium while
attempts are appended to the store by another writer."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from greenloop.store import AttemptRecord, Store
from test_report import chromium, points


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


class Served:
    def __init__(self, db: Path, *extra: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "greenloop", "report", "--serve", "--port", "0",
                                      "--db", str(db), *extra], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "http://127.0.0.1:" in line, (line, self.proc.stderr and self.proc.stderr.read())
        self.url = next(word for word in line.split() if word.startswith("http://"))

    def stop(self) -> int:
        self.proc.terminate()
        self.proc.communicate(timeout=30)
        return self.proc.returncode


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, Store]]:
    store = Store(tmp_path / "runs.db")
    server = Served(tmp_path / "runs.db")
    try:
        yield server, store
    finally:
        assert server.stop() in (0, 130)
        store.close()


def attempt(n: int, passed: int, parent: int | None = None) -> AttemptRecord:
    return AttemptRecord(n, "model", [], "", f"def f():\n    return {n}\n", {"tests": [
        {"test_id": "t.py::test_a", "status": "passed" if passed >= 1 else "failed"},
        {"test_id": "t.py::test_b", "status": "passed" if passed >= 2 else "failed"}]},
        passed, 2, passed == 2, f"attempt {n} feedback", 10, 5, 0.2, 0.01, parent=parent)


def test_live_run_page_gains_a_row_and_a_point_when_an_attempt_is_recorded(served, browser) -> None:
    server, store = served
    run_id = store.start_run(kind="solve", tests_path="t.py", target="m.py", spec="", model="m", strategy="revise",
                             budget={})
    store.add_attempt(run_id, attempt(1, 0))
    page = browser.new_page()
    page.goto(server.url + "run/last")
    page.wait_for_selector('[data-figure="by-attempt"] path.point')
    rows = page.locator("#attempts tr.attempt")
    assert rows.count() == 1 and points(page, "by-attempt") == 1
    assert "running" in page.inner_text("#summary")

    store.add_attempt(run_id, attempt(2, 1, parent=1))  # another writer, as the engine is during a run
    page.wait_for_function("document.querySelectorAll('#attempts tr.attempt').length === 2", timeout=10_000)
    page.wait_for_function(
        """document.querySelectorAll('[data-figure="by-attempt"] .scatterlayer .trace')[0]
             .querySelectorAll('path.point').length === 2""", timeout=10_000)
    assert rows.nth(1).inner_text().split("\t")[:2] == ["2", "1"]
    # A row that arrived live opens on click like the others, with its diff against its parent.
    rows.nth(1).click()
    detail = page.locator("tr.detail").nth(1)
    assert detail.is_visible()
    assert detail.locator(".diff .add").all_inner_texts() == ["+    return 2"]

    store.add_attempt(run_id, attempt(3, 2, parent=2))
    store.update_run(run_id, status="green", message="green after 3 model calls", tests_passed=2, tests_total=2)
    page.wait_for_function("document.getElementById('summary').innerText.includes('green after 3')", timeout=10_000)
    assert rows.count() == 3 and points(page, "by-attempt") == 3
    page.close()


def test_live_index_lists_a_run_as_soon_as_it_starts(served, browser) -> None:
    server, store = served
    page = browser.new_page()
    page.goto(server.url)
    assert page.locator("#no-runs").is_visible()
    run_id = store.start_run(kind="solve", tests_path="t.py", target="m.py", spec="", model="m", strategy="revise",
                             budget={})
    page.wait_for_selector(f'#runs a:text("{run_id}")', timeout=10_000)
    page.locator(f'#runs a:text("{run_id}")').click()
    page.wait_for_selector("#attempts")
    assert run_id in page.inner_text("h1")
    page.close()


def test_live_server_is_read_only_and_answers_only_its_own_host(served) -> None:
    server, store = served
    run_id = store.start_run(kind="solve", tests_path="t.py", target="m.py", spec="", model="m", strategy="revise",
                             budget={})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get(f"/api/run/{run_id}", params={"after": 0}).json()["rows"] == []
        assert client.post(f"/api/run/{run_id}").status_code == 501
        assert client.delete("/").status_code == 501
        assert client.get("/", headers={"Host": "evil.example:80"}).status_code == 403
        assert client.get("/run/nope").status_code == 404
        assert client.get("/plotly.js").headers["content-type"] == "text/javascript"
    assert store.run_row(run_id) is not None and store.attempt_rows(run_id) == []


def test_serve_bad_input(tmp_path: Path) -> None:
    def one_line(args: list[str], needle: str) -> None:
        proc = subprocess.run([sys.executable, "-m", "greenloop", "report", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("greenloop: ") and needle in lines[0], proc.stderr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line(["--serve", "--port", str(port), "--db", "runs.db"], f"port {port} on 127.0.0.1 is in use")
    one_line(["--serve", "--port", "70000", "--db", "runs.db"], "--port must be between")
    one_line(["--serve", "-o", "x.html", "--db", "runs.db"], "-o does not go with --serve")
    (tmp_path / "garbage.db").write_text("not sqlite\n" * 200)
    one_line(["--serve", "--port", "0", "--db", "garbage.db"], "cannot open the run store")


def test_live_bench_page_gains_a_problem_as_the_bench_goes_on(served, browser, tmp_path: Path) -> None:
    server, _ = served

    def bench(problems: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "greenloop", "bench", "humaneval", "--model", "canonical",
                               "--problems", problems, "--strategy", "single", "--max-calls", "3", "--db", "runs.db",
                               "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
        return str(json.loads(proc.stdout)["bench_id"])

    bench_id = bench("0-1")
    page = browser.new_page()
    page.goto(server.url + "bench/last")
    page.wait_for_selector('[data-figure="curves"] path.point')
    assert page.locator("#problems tbody tr").count() == 2
    assert bench("0-2") == bench_id  # the same bench, resumed with one more problem
    page.wait_for_function("document.querySelectorAll('#problems tbody tr').length === 3", timeout=10_000)
    link = page.locator("#problems tbody tr").nth(2).locator("a")
    assert link.get_attribute("href", timeout=5_000).startswith("/run/")  # type: ignore[union-attr]
    link.click()
    page.wait_for_selector("#attempts tr.attempt")
    store = Store(tmp_path / "runs.db")
    run_id = {p.problem: p.run_id for p in store.bench_problem_rows(bench_id)}["HumanEval/2"]
    store.close()
    assert run_id is not None and run_id in page.inner_text("h1")
    page.close()
