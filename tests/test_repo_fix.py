"""`greenloop fix` on real git repositories made here: real git, real pytest, the real sandbox;
only the model is scripted."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greenloop.store import Store

PACKAGE = {
    "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    "src/shop/__init__.py": "from shop.cart import total\n",
    "src/shop/cart.py": (
        "def total(prices, discount=0):\n"
        '    """Sum of the prices, less a percentage discount."""\n'
        "    subtotal = 0\n"
        "    for i in range(len(prices) - 1):\n"
        "        subtotal += prices[i]\n"
        "    return subtotal * (100 - discount) / 100\n"
    ),
    "src/shop/labels.py": "def label(name):\n    return name.title()\n",
    "tests/test_cart.py": (
        "from shop import total\n\n\n"
        "def test_total():\n    assert total([1, 2, 3]) == 6\n\n\n"
        "def test_discount():\n    assert total([10, 10], discount=50) == 10\n"
    ),
}
BUG = "    for i in range(len(prices) - 1):"
FIXED = "    for i in range(len(prices)):"


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


FIX_REPLY = block("src/shop/cart.py", BUG, FIXED)
WRONG_REPLY = block("src/shop/cart.py", BUG, "    for i in range(1, len(prices)):")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for rel, text in (files or PACKAGE).items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test User")
    git(path, "config", "user.email", "test@example.com")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def tree_state(repo: Path) -> dict[str, object]:
    """Every file's bytes (outside .git), plus the index, HEAD and branches: 'exactly as it was'."""
    files = {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(repo.rglob("*")) if p.is_file() and ".git" not in p.relative_to(repo).parts}
    return {"files": files, "index": hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest(),
            "head": git(repo, "rev-parse", "HEAD"), "branches": git(repo, "branch", "-a"),
            "worktrees": git(repo, "worktree", "list")}


def script(tmp_path: Path, *replies: str) -> str:
    path = tmp_path / f"script{len(list(tmp_path.glob('script*.json')))}.json"
    path.write_text(json.dumps(list(replies)))
    return f"scripted:{path}"


def greenloop(repo: Path, *args: str, tmp: Path | None = None, env: dict[str, str] | None = None,
              venv: str | None = sys.prefix) -> subprocess.CompletedProcess[str]:
    """greenloop as a user with a virtualenv activated (`venv`; greenloop's own has pytest), or none."""
    full = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    full.update({**({"VIRTUAL_ENV": venv} if venv else {}), **({"TMPDIR": str(tmp)} if tmp else {}), **(env or {})})
    return subprocess.run([sys.executable, "-m", "greenloop", *args], cwd=repo, capture_output=True, text=True,
                          timeout=180, check=False, env=full)


def fix(repo: Path, model: str, *command: str, extra: tuple[str, ...] = (), tmp: Path | None = None,
        env: dict[str, str] | None = None, venv: str | None = sys.prefix, json_out: bool = True):
    return greenloop(repo, "fix", "--model", model, "--db", str(repo.parent / "runs.db"),
                     *(("--json",) if json_out else ()), *extra, "--",
                     *(command or ("pytest", "tests/test_cart.py")), tmp=tmp, env=env, venv=venv)


def attempts_of(tmp_path: Path, run_id: str) -> list[dict[str, object]]:
    """Every attempt of the run, the baseline (n = 0) included, straight from the store."""
    store = Store(tmp_path / "runs.db")
    try:
        return store.attempts(run_id)
    finally:
        store.close()


def has_model_attempt(db: Path) -> bool:
    if not db.exists():
        return False
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM attempts WHERE n >= 1").fetchone()[0] > 0
        except sqlite3.Error:
            return False


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def test_green_path_applies_the_fix_and_nothing_else(repo: Path, tmp_path: Path) -> None:
    proc = fix(repo, script(tmp_path, WRONG_REPLY, FIX_REPLY), extra=("--files", "src/shop/labels.py"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "green" and result["applied"] is True and result["commit"] is None
    assert result["model_calls"] == 2 and result["tests_passed"] == result["tests_total"] == 2
    assert result["changed_files"] == ["src/shop/cart.py"]
    assert result["context_files"] == ["src/shop/labels.py", "src/shop/cart.py", "tests/test_cart.py (test, read-only)"]
    assert (repo / "src/shop/cart.py").read_text() == PACKAGE["src/shop/cart.py"].replace(BUG, FIXED)
    assert git(repo, "status", "--porcelain") == " M src/shop/cart.py\n"
    assert git(repo, "log", "--oneline").count("\n") == 1  # no commit without --commit
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=repo,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout
    store = Store(tmp_path / "runs.db")
    attempts = store.attempts(result["run_id"])
    store.close()
    assert [(a["n"], a["kind"], a["passed"]) for a in attempts] == [(0, "baseline", 0), (1, "model", 0), (2, "model", 2)]
    assert "assert 3.0 == 6" in attempts[0]["feedback"]  # what the model was told
    assert "src/shop/cart.py" in attempts[1]["messages"][1]["content"]


def test_exhausted_budget_leaves_the_tree_exactly_as_it_was_and_says_where_the_best_attempt_is(
        repo: Path, tmp_path: Path) -> None:
    before = tree_state(repo)
    proc = fix(repo, script(tmp_path, WRONG_REPLY, "no idea", FIX_REPLY), extra=("--max-calls", "2"))
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "exhausted" and result["applied"] is False and result["model_calls"] == 2
    assert result["best"] == f"greenloop show {result['run_id']} --diff"
    assert tree_state(repo) == before
    diff = greenloop(repo, "show", result["run_id"], "--db", str(tmp_path / "runs.db"), "--diff")
    assert diff.returncode == 0 and "+    for i in range(1, len(prices)):" in diff.stdout
    applies = subprocess.run(["git", "apply", "--check", "-"], cwd=repo, input=diff.stdout, text=True,
                             capture_output=True, check=False)
    assert applies.returncode == 0, applies.stderr
    # The suggested command works from a subdirectory too.
    from_sub = subprocess.run(["sh", "-c", 'git -C "$(git rev-parse --show-toplevel)" apply --check'],
                              cwd=repo / "src", input=diff.stdout, text=True, capture_output=True, check=False)
    assert from_sub.returncode == 0, from_sub.stderr
    human = greenloop(repo, "fix", "--model", script(tmp_path, WRONG_REPLY), "--db", str(tmp_path / "runs.db"),
                      "--max-calls", "1", "--", "pytest", "tests/test_cart.py")
    assert human.returncode == 1
    assert "your working tree is unchanged; best attempt: greenloop show" in human.stderr
    assert 'git -C "$(git rev-parse --show-toplevel)" apply' in human.stderr
    assert "context for the model: src/shop/cart.py" in human.stderr


def test_dirty_tree_is_copied_with_uncommitted_work_and_keeps_it(repo: Path, tmp_path: Path) -> None:
    # Uncommitted work: a change to a file the fix does not touch, a staged change, and an untracked
    # test file that the command runs, so the run can only pass if the copy includes it.
    (repo / "src/shop/labels.py").write_text("def label(name):\n    return name.upper()\n")
    (repo / "README.md").write_text("notes\n")
    git(repo, "add", "README.md")
    (repo / "tests/test_labels.py").write_text(
        "from shop.labels import label\n\n\ndef test_label():\n    assert label('ab') == 'AB'\n")
    proc = fix(repo, script(tmp_path, FIX_REPLY), "pytest", "tests")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["tests_total"] == 3 and result["applied"]
    assert (repo / "src/shop/labels.py").read_text() == "def label(name):\n    return name.upper()\n"
    status = git(repo, "status", "--porcelain").splitlines()
    assert set(status) == {"A  README.md", " M src/shop/cart.py", " M src/shop/labels.py", "?? tests/test_labels.py"}


def test_edits_to_tests_are_refused_and_the_tests_stay_the_originals(repo: Path, tmp_path: Path) -> None:
    cheat = block("tests/test_cart.py", "    assert total([1, 2, 3]) == 6", "    assert total([1, 2, 3]) == 3")
    conftest = "conftest.py\n<<<<<<< SEARCH\n=======\nimport pytest\n>>>>>>> REPLACE\n"
    proc = fix(repo, script(tmp_path, cheat, conftest + FIX_REPLY))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["model_calls"] == 2 and result["changed_files"] == ["src/shop/cart.py"]
    assert (repo / "tests/test_cart.py").read_text() == PACKAGE["tests/test_cart.py"]
    assert not (repo / "conftest.py").exists()
    attempts = attempts_of(tmp_path, result["run_id"])
    assert attempts[1]["kind"] == "edit-error" and attempts[1]["code"] is None
    assert "refused: tests/test_cart.py holds tests the command runs" in attempts[1]["feedback"]
    assert "Refused: conftest.py configures the project, its tests or its build" in attempts[2]["feedback"]
    # The refusal reached the model in the next prompt.
    assert "tests/test_cart.py holds tests the command runs" in attempts[2]["messages"][1]["content"]


def test_ctrl_c_leaves_the_tree_intact_and_cleans_up(repo: Path, tmp_path: Path) -> None:
    (repo / "tests/test_slow.py").write_text("import time\n\n\ndef test_slow():\n    time.sleep(0.5)\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "slow")
    (repo / "src/shop/labels.py").write_text("# uncommitted\n")
    before = tree_state(repo)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    model = script(tmp_path, *[block("src/shop/cart.py", BUG, f"    for i in range(len(prices) - {n}):")
                               for n in range(2, 60)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "greenloop", "fix", "--model", model, "--db", str(tmp_path / "runs.db"), "--json",
         "--", "pytest", "tests"],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TMPDIR": str(scratch), "VIRTUAL_ENV": sys.prefix},
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not has_model_attempt(tmp_path / "runs.db"):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    result = json.loads(out)
    assert result["status"] == "interrupted" and result["attempts"] >= 1, result
    assert result["best"] == f"greenloop show {result['run_id']} --diff"
    assert tree_state(repo) == before
    assert list(scratch.iterdir()) == []  # the private copy is gone too


def test_a_command_other_than_pytest_is_judged_by_exit_status_and_output(repo: Path, tmp_path: Path) -> None:
    (repo / "check.py").write_text(
        "import sys\nsys.path.insert(0, 'src')\nfrom shop import total\n\n"
        "got = total([4, 5])\nif got != 9:\n    sys.exit(f'total([4, 5]) gave {got}, expected 9')\nprint('ok')\n")
    git(repo, "add", "check.py")
    git(repo, "commit", "-q", "-m", "check")
    edit_check = block("check.py", "if got != 9:", "if False:")
    proc = fix(repo, script(tmp_path, edit_check, FIX_REPLY), "python", "check.py")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "green" and result["tests_total"] == 1 and result["model_calls"] == 2
    assert (repo / "check.py").read_text().count("if got != 9:") == 1
    attempts = attempts_of(tmp_path, result["run_id"])
    assert "`python check.py` exited with status 1" in attempts[0]["feedback"]
    assert "total([4, 5]) gave 4.0, expected 9" in attempts[0]["feedback"]
    assert "refused: check.py holds tests the command runs" in attempts[1]["feedback"]


def test_commit_flag_commits_only_the_fix_on_the_current_branch(repo: Path, tmp_path: Path) -> None:
    (repo / "README.md").write_text("staged, not part of the fix\n")
    git(repo, "add", "README.md")
    proc = fix(repo, script(tmp_path, FIX_REPLY), extra=("--commit",))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repo, "show", "--name-only", "--format=%s", "HEAD").split() == [
        "greenloop", "fix:", "make", "`pytest", "tests/test_cart.py`", "pass", "src/shop/cart.py"]
    assert git(repo, "status", "--porcelain") == "A  README.md\n"


def test_bad_input_is_one_line_exit_2_and_writes_nothing(repo: Path, tmp_path: Path) -> None:
    model = script(tmp_path, FIX_REPLY)
    before = tree_state(repo)
    plain = tmp_path / "plain"
    plain.mkdir()
    cases = [
        (greenloop(plain, "fix", "--model", model, "--db", str(tmp_path / "runs.db"), "--", "pytest"),
         "not a git repository"),
        (greenloop(repo, "fix", "--model", model, "--db", str(tmp_path / "runs.db")), "give the test command after --"),
        (greenloop(repo, "fix", "--model", model, "--db", str(tmp_path / "runs.db"), "--files", "src/nope.py", "--",
                   "pytest"), "--files: no such file in the repository: src/nope.py"),
        (greenloop(repo, "fix", "--model", model, "--db", str(tmp_path / "runs.db"), "--", "no-such-program-xyz"),
         "command not found: no-such-program-xyz"),
        (greenloop(repo, "fix", "--model", model, "--db", str(tmp_path / "runs.db"), "--", "pytest",
                   "--no-such-flag"), "unrecognized arguments: --no-such-flag"),
        (greenloop(repo, "fix", "--model", model, "--db", str(tmp_path / "runs.db"), "--", "pytest",
                   "tests/nope.py"), "file or directory not found: tests/nope.py"),
        (greenloop(repo, "fix", "--model", model, "--db", str(tmp_path / "runs.db"), "--", "pytest", "-k",
                   "nothing_matches"), "collects no tests"),
        (greenloop(repo, "fix", "--model", "gpt-5", "--db", str(tmp_path / "runs.db"), "--", "pytest"),
         "unknown model spec"),
    ]
    for proc, needle in cases:
        assert proc.returncode == 2, (needle, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("greenloop: ") and needle in lines[0], (needle, proc.stderr)
    assert tree_state(repo) == before
    assert not (tmp_path / "runs.db").exists()


def test_already_green_changes_nothing(repo: Path, tmp_path: Path) -> None:
    (repo / "src/shop/cart.py").write_text(PACKAGE["src/shop/cart.py"].replace(BUG, FIXED))
    git(repo, "commit", "-qam", "fixed by hand")
    before = tree_state(repo)
    proc = fix(repo, script(tmp_path, FIX_REPLY))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["model_calls"] == 0 and "already passes" in result["message"]
    assert tree_state(repo) == before


def test_whole_format_merges_a_code_block_for_small_models(repo: Path, tmp_path: Path) -> None:
    (repo / "src/shop/cart.py").write_text(PACKAGE["src/shop/cart.py"] + "\n\ndef count(prices):\n    return len(prices)\n")
    git(repo, "commit", "-qam", "count")
    reply = ("```python\ndef total(prices, discount=0):\n    return sum(prices) * (100 - discount) / 100\n\n"
             "print(total([1, 2]))\n```")
    proc = fix(repo, script(tmp_path, reply), extra=("--edit-format", "whole"))
    assert proc.returncode == 0, proc.stderr
    text = (repo / "src/shop/cart.py").read_text()
    assert "return sum(prices) * (100 - discount) / 100" in text and "print(" not in text
    assert "def count(prices):\n    return len(prices)" in text  # not in the reply, so kept
    run_id = json.loads(proc.stdout)["run_id"]
    store = Store(tmp_path / "runs.db")
    prompt = store.attempts(run_id)[1]["messages"][1]["content"]
    store.close()
    assert "Reply with the corrected functions in one ```python block" in prompt
    assert "def total(prices" in prompt and "def count" not in prompt  # only what the failing tests reach


def test_repository_outside_tmp(tmp_path: Path) -> None:
    # Most repositories live outside /tmp, where the sandbox must create the mount point itself
    # (the sandbox root is read-only once set up). build/ is git-ignored.
    outside = Path(__file__).resolve().parents[1] / "build" / f"fix-outside-tmp-{os.getpid()}"
    try:
        repo = make_repo(outside / "repo")
        proc = fix(repo, script(tmp_path, FIX_REPLY))
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["status"] == "green"
        assert (repo / "src/shop/cart.py").read_text() == PACKAGE["src/shop/cart.py"].replace(BUG, FIXED)
    finally:
        subprocess.run(["rm", "-rf", str(outside)], check=False)
