"""`greenloop fix` on projects as users have them: their own virtualenv and interpreter, their
environment variables, git in the middle of something, a task in words, a dry run. Real git, real
virtualenvs made here (`python -m venv --without-pip`), the real sandbox; only the model is scripted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from greenloop.store import Store
from test_repo_fix import BUG, FIX_REPLY, FIXED, PACKAGE, attempts_of, block, fix, git, make_repo, script, tree_state


def make_venv(path: Path, modules: dict[str, str] | None = None, editable: Path | None = None) -> Path:
    """A real virtualenv whose site-packages also sees greenloop's (for pytest), with `modules`
    installed only here and, optionally, an editable install of `editable` (a .pth naming it)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    site = path / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "_shared_test_env.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    for name, text in (modules or {}).items():
        (site / name).write_text(text)
    if editable is not None:
        (site / "__editable__.project.pth").write_text(f"{editable}\n")
    pytest_script = path / "bin" / "pytest"
    pytest_script.write_text(f"#!{path / 'bin' / 'python'}\nimport sys\nfrom pytest import console_main\n"
                             "sys.exit(console_main())\n")
    pytest_script.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def shared_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("venv") / "env", {"projonly.py": "ANSWER = 42\n"})


def src_layout(path: Path) -> Path:
    """The shop package without any pytest path configuration: it imports only when installed."""
    files = {k: v for k, v in PACKAGE.items() if k != "pyproject.toml"}
    files["pyproject.toml"] = "[project]\nname = 'shop'\nversion = '0'\n"
    files[".gitignore"] = ".venv/\n"
    files["tests/test_where.py"] = (
        "import sys\n\nimport projonly\nimport shop\n\n\n"
        "def test_runs_in_the_project_venv_against_the_private_copy():\n"
        "    assert sys.prefix.endswith('/.venv') and projonly.ANSWER == 42\n"
        f"    assert shop.__file__ == {str(path / 'src' / 'shop' / '__init__.py')!r}\n"
    )
    return make_repo(path, files)


def test_the_project_venv_in_the_repository_runs_the_tests_and_its_pytest_works(tmp_path: Path) -> None:
    repo = src_layout(tmp_path / "repo")
    make_venv(repo / ".venv", {"projonly.py": "ANSWER = 42\n"}, editable=repo / "src")
    proc = fix(repo, script(tmp_path, FIX_REPLY), ".venv/bin/pytest", "-q", "tests", venv=None)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "green" and result["tests_total"] == 3
    assert str(repo / ".venv" / "bin" / "python") in result["python"] and ".venv/ in the repository" in result["python"]
    assert (repo / "src/shop/cart.py").read_text() == PACKAGE["src/shop/cart.py"].replace(BUG, FIXED)
    store = Store(tmp_path / "runs.db")
    assert ".venv" in (store.run_row(result["run_id"]).python or "")
    store.close()


def test_python_flag_and_an_active_virtualenv_choose_the_interpreter(tmp_path: Path, shared_venv: Path) -> None:
    repo = src_layout(tmp_path / "repo")
    venv = make_venv(tmp_path / "elsewhere", {"projonly.py": "ANSWER = 42\n"}, editable=repo / "src")
    (repo / "tests/test_where.py").write_text((repo / "tests/test_where.py").read_text().replace(
        "sys.prefix.endswith('/.venv')", "sys.prefix.endswith('/elsewhere')"))
    git(repo, "commit", "-qam", "elsewhere")
    by_flag = fix(repo, script(tmp_path, FIX_REPLY), "pytest", "tests", extra=("--python", str(venv / "bin/python"),
                                                                            "--dry-run"), venv=str(shared_venv))
    assert by_flag.returncode == 0, by_flag.stderr
    assert "from --python" in json.loads(by_flag.stdout)["python"]
    by_env = fix(repo, script(tmp_path, FIX_REPLY), "pytest", "tests", extra=("--dry-run",), venv=str(venv))
    assert by_env.returncode == 0, by_env.stderr
    assert "from VIRTUAL_ENV" in json.loads(by_env.stdout)["python"]


def test_a_module_installed_nowhere_stops_before_the_loop(tmp_path: Path) -> None:
    files = {**PACKAGE, "tests/test_toml.py": "import tomlish_not_installed\n\n\ndef test_x():\n    assert True\n"}
    repo = make_repo(tmp_path / "repo", files)
    before = tree_state(repo)
    stub = block("src/tomlish_not_installed.py", "", "x = 1")
    proc = fix(repo, script(tmp_path, stub, FIX_REPLY), "pytest", "tests")
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert line.count("\n") == 0 and "'tomlish_not_installed'" in line and "not installed for" in line
    assert sys.prefix in line or "python" in line
    assert tree_state(repo) == before and not (tmp_path / "runs.db").exists()


def test_environment_variables_enter_only_when_named(tmp_path: Path) -> None:
    files = {**PACKAGE, "tests/test_mode.py": (
        "import os\n\n\ndef test_mode():\n    assert os.environ['APP_MODE'] == 'test'\n"
        "    assert 'HOST_ONLY_SECRET' not in os.environ\n")}
    repo = make_repo(tmp_path / "repo", files)
    host = {"HOST_ONLY_SECRET": "s3cret", "APP_MODE": "test"}
    missing = fix(repo, script(tmp_path, FIX_REPLY), "pytest", "tests", env=host)
    assert missing.returncode == 2, missing.stderr
    assert "APP_MODE" in missing.stderr and "--env APP_MODE" in missing.stderr and "environment" in missing.stderr
    named = fix(repo, script(tmp_path, FIX_REPLY), "pytest", "tests", extra=("--env", "APP_MODE"), env=host)
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["tests_total"] == 3
    bad = fix(repo, script(tmp_path, FIX_REPLY), "pytest", "tests", extra=("--env", "NOT SET"))
    assert bad.returncode == 2 and "--env" in bad.stderr


def test_git_states_that_are_refused_before_the_loop(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "checkout", "-qb", "other")
    (repo / "src/shop/labels.py").write_text("def label(name):\n    return name.upper()\n")
    git(repo, "commit", "-qam", "upper")
    git(repo, "checkout", "-q", "main")
    (repo / "src/shop/labels.py").write_text("def label(name):\n    return name.lower()\n")
    git(repo, "commit", "-qam", "lower")
    subprocess.run(["git", "merge", "-q", "other"], cwd=repo, capture_output=True, check=False)
    merging = fix(repo, script(tmp_path, FIX_REPLY))
    assert merging.returncode == 2 and "a merge is in progress" in merging.stderr, merging.stderr
    git(repo, "merge", "--abort")

    (repo / "src/shop/cart.py").write_text("<<<<<<< HEAD\n" + PACKAGE["src/shop/cart.py"] + "=======\nx = 1\n>>>>>>> b\n")
    marked = fix(repo, script(tmp_path, FIX_REPLY))
    assert marked.returncode == 2 and "src/shop/cart.py holds git conflict markers" in marked.stderr, marked.stderr
    git(repo, "checkout", "-q", "--", "src/shop/cart.py")

    git(repo, "checkout", "-q", "--detach")
    detached = fix(repo, script(tmp_path, FIX_REPLY), extra=("--commit",))
    assert detached.returncode == 2 and "HEAD is detached" in detached.stderr, detached.stderr
    for proc in (merging, marked, detached):
        assert proc.stderr.strip().count("\n") == 0


def test_a_failed_commit_is_an_error_and_leaves_the_tree_as_before(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'no commits today' >&2\nexit 1\n")
    hook.chmod(0o755)
    (repo / "README.md").write_text("staged work\n")
    git(repo, "add", "README.md")
    before = tree_state(repo)
    proc = fix(repo, script(tmp_path, FIX_REPLY), extra=("--commit",))
    assert proc.returncode == 3, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "error" and result["applied"] is False and "the commit failed" in result["message"]
    assert tree_state(repo) == before


def test_task_in_words_is_stored_and_shown_and_confirm_needs_a_terminal(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    task = tmp_path / "task.md"
    task.write_text("total() must add every price\n")
    proc = fix(repo, script(tmp_path, FIX_REPLY), extra=("--message-file", str(task)))
    assert proc.returncode == 0, proc.stderr
    run_id = json.loads(proc.stdout)["run_id"]
    store = Store(tmp_path / "runs.db")
    assert store.run_row(run_id).spec == "total() must add every price\n"
    store.close()
    assert "The task: total() must add every price" in attempts_of(tmp_path, run_id)[1]["messages"][1]["content"]
    confirm = fix(repo, script(tmp_path, FIX_REPLY), extra=("--confirm",))
    assert confirm.returncode == 2 and "--confirm needs a terminal" in confirm.stderr


def test_messages_plurals_and_a_script_that_is_not_executable(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "check.sh").write_text("#!/bin/sh\nexit 0\n")
    os.chmod(repo / "check.sh", 0o644)
    proc = fix(repo, script(tmp_path, FIX_REPLY), "./check.sh")
    assert proc.returncode == 2 and "not executable" in proc.stderr, proc.stderr
    human = fix(repo, script(tmp_path, FIX_REPLY), json_out=False)
    assert human.returncode == 0, human.stderr
    assert "green after 1 model call;" in human.stderr and "1 model call ·" in human.stderr
    assert "tests run with" in human.stderr


def test_the_model_can_ask_to_see_a_file_or_find_a_definition_without_a_test_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**PACKAGE, ".gitignore": ".env\n"})
    (repo / ".env").write_text("TOKEN=hunter2\n")
    proc = fix(repo, script(tmp_path, "FIND total", "SHOW src/shop/labels.py\nSHOW .env", FIX_REPLY))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["model_calls"] == 3 and result["status"] == "green"
    attempts = attempts_of(tmp_path, result["run_id"])
    assert [a["kind"] for a in attempts] == ["baseline", "request", "request", "model"]
    assert attempts[1]["outcome"] is None and attempts[2]["outcome"] is None  # no test run for a request
    second = attempts[2]["messages"][1]["content"]
    assert "What you asked for:\nFIND total:\nsrc/shop/cart.py:1: def total(prices, discount)" in second
    third = attempts[3]["messages"][1]["content"]
    assert "SHOW src/shop/labels.py:\n```\n   1 | def label(name):" in third
    assert "SHOW .env: no such file" in third and "hunter2" not in third


def test_tests_that_write_files_beside_themselves_still_run(tmp_path: Path) -> None:
    """Existing tests and their data are read-only in the sandbox (code under test cannot rewrite
    them), file by file: a test may still create files in its own directory."""
    files = {**PACKAGE, "tests/test_snapshot.py": (
        "from pathlib import Path\n\nfrom shop import total\n\n\n"
        "def test_writes_a_snapshot():\n    out = Path(__file__).parent / 'out.txt'\n"
        "    out.write_text(str(total([1, 2, 3])))\n    assert out.read_text() == '6.0'\n")}
    repo = make_repo(tmp_path / "repo", files)
    proc = fix(repo, script(tmp_path, FIX_REPLY), "pytest", "tests")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tests_total"] == 3
