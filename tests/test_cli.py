"""The command line as a user meets it: exit codes, --json, bad input, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import GOOD, PARTIAL, WRONG, fenced


def greenloop(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "greenloop", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False, **kwargs)


def solve(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # `revise` asks one call at a time, so scripted replies come back in order (the default, tree, asks for a round).
    return greenloop("solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db",
                     "--strategy", "revise", *args, cwd=workspace)


def test_green_run_exits_0_writes_target_and_prints_json(workspace: Path, script) -> None:
    proc = solve(workspace, "--model", script(fenced(WRONG), fenced(GOOD)), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "green" and result["attempts"] == 2 and result["model_calls"] == 2
    assert result["tests_passed"] == result["tests_total"] == 4
    assert set(result) >= {"run_id", "prompt_tokens", "completion_tokens", "seconds", "target"}
    assert (workspace / "slugger.py").read_text() == GOOD


def test_exhausted_run_exits_1_and_leaves_target_untouched(workspace: Path, script) -> None:
    (workspace / "slugger.py").write_text("def slugify(text):\n    '''Make a slug.'''\n")
    before = (workspace / "slugger.py").read_text()
    proc = solve(workspace, "--model", script(fenced(WRONG), fenced(PARTIAL)), "--max-calls", "2")
    assert proc.returncode == 1, proc.stderr
    assert (workspace / "slugger.py").read_text() == before
    assert "greenloop show" in proc.stderr


def test_runs_and_show_list_what_happened(workspace: Path, script) -> None:
    proc = solve(workspace, "--model", script(fenced(WRONG), fenced(GOOD)), "--json")
    run_id = json.loads(proc.stdout)["run_id"]
    listed = greenloop("runs", "--db", "runs.db", "--json", cwd=workspace)
    assert [r["id"] for r in json.loads(listed.stdout)] == [run_id]
    shown = greenloop("show", run_id[:17], "--db", "runs.db", "--json", cwd=workspace)
    data = json.loads(shown.stdout)
    assert [a["n"] for a in data["attempts"]] == [1, 2]
    assert "returned 'Hello World', expected 'hello-world'" in data["attempts"][0]["feedback"]
    assert data["best_code"] == GOOD
    text = greenloop("show", run_id, "--db", "runs.db", cwd=workspace)
    assert "attempt 1" in text.stdout and "best code" in text.stdout


def _one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("greenloop: ") and needle in lines[0], proc.stderr


def test_bad_inputs_exit_2_with_one_clear_line_and_write_nothing(workspace: Path, script) -> None:
    model = script(fenced(GOOD))
    _one_line_error(greenloop("solve", "--tests", "missing.py", "--target", "x.py", "--db", "runs.db",
                              "--model", model, cwd=workspace), "test file not found")
    (workspace / "test_broken.py").write_text("def test_x(:\n")
    _one_line_error(greenloop("solve", "--tests", "test_broken.py", "--target", "x.py", "--db", "runs.db",
                              "--model", model, cwd=workspace), "not valid Python")
    (workspace / "pkg").mkdir()
    _one_line_error(solve(workspace, "--model", model, "--target", "pkg"), "is a directory")
    _one_line_error(solve(workspace, "--model", "gpt-5"), "unknown model spec")
    _one_line_error(solve(workspace, "--model", "scripted:nope.json"), "not found")
    (workspace / "test_uncollectable.py").write_text("import no_such_module_xyz\n\ndef test_x():\n    pass\n")
    _one_line_error(greenloop("solve", "--tests", "test_uncollectable.py", "--target", "x.py", "--db", "runs.db",
                              "--model", model, cwd=workspace), "cannot be collected")
    assert not (workspace / "x.py").exists() and not (workspace / "slugger.py").exists()


def test_unreachable_openai_endpoint_is_bad_input(workspace: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: nothing listens there
    proc = solve(workspace, "--model", "openai:some-model", "--base-url", f"http://127.0.0.1:{port}/v1")
    _one_line_error(proc, "cannot reach the model endpoint")


SLOW_TESTS = "import time\nfrom slugger import slugify\n\ndef test_slow():\n    time.sleep(0.3)\n    assert slugify('a') == 'b'\n"


def test_ctrl_c_ends_cleanly_with_130_and_records_the_run(workspace: Path, script) -> None:
    (workspace / "test_slugger.py").write_text(SLOW_TESTS)
    model = script(*[fenced(f"def slugify(text):\n    return {i}\n") for i in range(200)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "greenloop", "solve", "--tests", "test_slugger.py", "--target", "slugger.py",
         "--db", "runs.db", "--model", model, "--json"],
        cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    result = json.loads(out)
    assert result["status"] == "interrupted" and result["attempts"] >= 1
    assert not (workspace / "slugger.py").exists()
    assert not [p for p in os.listdir(workspace) if p.endswith(".tmp")]
    listed = json.loads(greenloop("runs", "--db", "runs.db", "--json", cwd=workspace).stdout)
    assert listed[0]["status"] == "interrupted"


def test_runs_piped_prints_full_ids_tab_separated_and_last_names_the_newest(workspace: Path, script) -> None:
    ids = [json.loads(solve(workspace, "--model", script(fenced(GOOD)), "--json").stdout)["run_id"] for _ in range(3)]
    piped = greenloop("runs", "--db", "runs.db", cwd=workspace)
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ids[::-1]  # full ids, newest first, no header
    assert all(len(line.split("\t")) == 10 for line in lines)
    assert lines[0].split("\t")[2:4] == ["green", "4/4"]
    limited = greenloop("runs", "--db", "runs.db", "--limit", "2", "--json", cwd=workspace)
    assert [r["id"] for r in json.loads(limited.stdout)] == ids[:0:-1]
    shown = greenloop("show", "last", "--db", "runs.db", "--json", cwd=workspace)
    assert json.loads(shown.stdout)["run"]["id"] == ids[-1]
    again = greenloop("show", lines[1].split("\t")[0], "--db", "runs.db", "--json", cwd=workspace)
    assert json.loads(again.stdout)["run"]["id"] == ids[1]
    from security.test_terminal import on_terminal

    narrow = on_terminal(["runs", "--db", "runs.db"], workspace, columns=40)
    assert all(run_id.encode() in narrow for run_id in ids)  # a narrow terminal shrinks other columns, not ids


def test_runs_and_show_bad_input(workspace: Path, script) -> None:
    empty = greenloop("runs", "--db", "empty.db", cwd=workspace)
    assert empty.returncode == 0 and empty.stdout == ""
    assert json.loads(greenloop("runs", "--db", "empty.db", "--json", cwd=workspace).stdout) == []
    _one_line_error(greenloop("show", "last", "--db", "empty.db", cwd=workspace), "no runs in")
    _one_line_error(greenloop("runs", "--db", "empty.db", "--limit", "0", cwd=workspace), "--limit")
    solve(workspace, "--model", script(fenced(GOOD)), "--json")
    _one_line_error(greenloop("show", "20991231-nope", "--db", "runs.db", cwd=workspace), "no run '20991231-nope'")
    (workspace / "notadb").write_text("this is not a database\n" * 100)
    _one_line_error(greenloop("runs", "--db", "notadb", cwd=workspace), "cannot open the run store")


def test_solve_progress_is_live_on_a_terminal_and_plain_lines_when_piped(workspace: Path, script) -> None:
    from security.test_terminal import on_terminal

    model = script(fenced(WRONG), fenced(PARTIAL), fenced(WRONG))
    piped = solve(workspace, "--model", model, "--max-calls", "3")
    assert piped.returncode == 1
    lines = [line for line in piped.stderr.splitlines() if line.startswith("call ")]
    assert [line.split(" · ")[:2] for line in lines] == [
        ["call 1/3", "best 0/4 tests"], ["call 2/3", "best 3/4 tests"], ["call 3/3", "best 3/4 tests"]]
    assert "\x1b" not in piped.stderr
    shown = on_terminal(["solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db",
                         "--model", script(fenced(WRONG), fenced(PARTIAL), fenced(WRONG)), "--max-calls", "3"],
                        workspace)
    assert b"best" in shown and b"3/4 tests" in shown and b"call 3/3" in shown and b"\x1b[" in shown
    assert "call 1/3 · best".encode() not in shown  # the plain lines are for pipes only


def test_bench_progress_counts_problems_and_solved_with_an_eta(tmp_path: Path) -> None:
    from security.test_terminal import on_terminal

    piped = greenloop("bench", "humaneval", "--model", "canonical", "--problems", "0-2", "--strategy", "single",
                      "--max-calls", "2", "--db", "runs.db", cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    lines = [line for line in piped.stderr.splitlines() if line.startswith("[")]
    assert [line.split()[0] for line in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert "1 solved so far · ETA" in lines[0] and lines[2].endswith("3 solved so far")
    shown = on_terminal(["bench", "humaneval", "--model", "canonical", "--problems", "3-4", "--strategy", "single",
                         "--max-calls", "2", "--db", "runs.db"], tmp_path)
    assert b"problems" in shown and b"solved 2" in shown and b"2/2" in shown and b"ETA" in shown


def test_solve_defaults_to_the_best_measured_strategy(workspace: Path, script) -> None:
    """`tree` beat `revise` on HumanEval 0-39 (docs/benchmarks.md): it is what `solve` uses unasked."""
    proc = greenloop("solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db",
                     "--model", script(fenced(WRONG), fenced(GOOD), fenced(WRONG), fenced(WRONG)), "--json",
                     cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    run_id = json.loads(proc.stdout)["run_id"]
    shown = greenloop("show", run_id, "--json", "--db", "runs.db", cwd=workspace)
    assert json.loads(shown.stdout)["run"]["strategy"] == "tree", shown.stdout
