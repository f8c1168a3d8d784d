"""What a fix may change, what screening flags in added code, and what green means per test: the
pure parts of repo mode, on real files parsed by `ast` and real result records."""

from __future__ import annotations

import sys

from greenloop.execute import Outcome, TestResult, TestStatus
from greenloop.repo.interpreter import detect
from greenloop.repo.policy import secret_like
from greenloop.repo.reach import build_policy, command_paths, conflict_markers
from greenloop.repo.repomap import repo_map
from greenloop.repo.results import group, judge
from greenloop.repo.screen import screen

SNAPSHOT = {
    "src/shop/__init__.py": "from shop.cart import total\n",
    "src/shop/cart.py": "def total(prices):\n    return sum(prices[:-1])\n",
    "src/shop/rates.json": "{}\n",
    "tools/release.py": "x = 1\n",
    "tests/test_cart.py": "from shop import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n",
    "tests/helpers.py": "",
    "Makefile": "include build/extra.mk\ntest:\n\tpytest\n",
    "pyproject.toml": "",
}


def policy(allow: tuple[str, ...] = (), links: tuple[str, ...] = ()):
    failing = Outcome((TestResult("tests/test_cart.py::test_total", TestStatus.FAILED, "assert 1 == 3",
                                  "src/shop/cart.py:2: in total"),))
    return build_policy(outcome=failing, test_files=["tests/test_cart.py"], named=["tests"],
                        opened=["src/shop/rates.json"], files=[], snapshot=list(SNAPSHOT), read=SNAPSHOT.get, cwd="",
                        where=("/repo",), args=["tests"], allow=allow, interpreter=detect(__import__("pathlib").Path("/"),
                                                                                          sys.executable),
                        is_link=lambda p: p in links)


def test_by_default_only_the_reached_packages_may_change_and_new_modules_beside_them() -> None:
    p = policy()
    assert p("src/shop/cart.py") is None and p("src/shop/discounts.py") is None
    assert "not part of the code the failing tests reach" in (p("tools/release.py") or "")
    assert "test data" in (p("src/shop/rates.json") or "")
    assert "test file or test helper" in (p("tests/helpers.py") or "")
    assert "part of the test command" in (p("build/extra.mk") or "") or "configures" in (p("build/extra.mk") or "")
    assert "part of the test command" in (p("Makefile") or "") and "configures" in (p("src/shop/pytest.toml") or "")
    assert "shadow" in (p("src/shop/json.py") or "") and "shadow" in (p("src/shop/pytest.py") or "")
    assert "git's own data" in (p("src/shop/.git/config") or "") and "git's own data" in (p(".GIT/hooks/x") or "")
    assert "dotfile" in (p(".github/workflows/ci.yml") or "")
    assert "packaging metadata" in (p("src/shop-1.dist-info/RECORD") or "")


def test_allow_widens_the_default_but_never_to_git_symlinks_or_secrets() -> None:
    p = policy(allow=("tools/*", ".github/**", "src/*"), links=("src/shop/vendor",))
    assert p("tools/release.py") is None and p(".github/workflows/ci.yml") is None
    assert "git's own data" in (p("src/.git") or "")
    assert "symlink" in (p("src/shop/vendor/x.py") or "")
    assert "secrets" in (p("src/.env") or "")


def test_secret_like_names() -> None:
    assert all(map(secret_like, [".env", ".env.local", "server.pem", "id_rsa", "id_ed25519.pub", "api_key.txt",
                                 "deploy.key", "credentials.json", ".netrc"]))
    assert not any(map(secret_like, ["keyboard.py", "monkey.py", "src/shop/cart.py", "README.md"]))


def test_command_paths_and_conflict_markers() -> None:
    known = {"tests/test_a.py", "check.py"}
    assert command_paths(["tests", "check.py", "-k", "x"], "", lambda p: p in known or p == "tests") == [
        "tests", "check.py"]
    files = {"a.py": "x = 1\n", "b.py": "<<<<<<< HEAD\nx = 1\n=======\nx = 2\n>>>>>>> other\n"}
    assert conflict_markers(["a.py", "b.py"], files.get) == "b.py"
    assert conflict_markers(["a.py"], files.get) is None


ORIGINAL = "import os\n\n\ndef home():\n    return os.environ.get('HOME')\n\n\ndef total(xs):\n    return sum(xs[:-1])\n"


def test_screening_passes_a_real_fix_and_what_the_original_already_did() -> None:
    fixed = ORIGINAL.replace("sum(xs[:-1])", "sum(xs)")
    assert screen(ORIGINAL, fixed) == []
    assert screen(None, "def f(x):\n    return {k: v for k, v in x.items()}\n") == []


def test_screening_flags_added_tampering_through_aliases_and_dynamic_lookups() -> None:
    cases = {
        "from os import _exit as leave\nleave(0)\n": "exits the process",
        "import sys as s\nif 'pytest' in s.modules:\n    pass\n": "sys.modules",
        "import builtins\nbuiltins.print = None\n": "builtins",
        "getattr(__import__('o' + 's'), 'environ')\n": "imports dynamically",
        "import importlib\nimportlib.import_module('pytest')\n": "importlib",
        "def pytest_collection_modifyitems(items):\n    items.clear()\n": "pytest hook",
        "import ctypes\n": "ctypes",
        "import inspect\ninspect.stack()\n": "inspect",
        "x = open('/proc/self/environ').read()\n": "/proc",
        "import unittest\nraise unittest.SkipTest('x')\n": "unittest",
        "raise SystemExit(0)\n": "exits at import",
        "def f():\n    return f.__code__\n": "replaces function code",
    }
    for added, needle in cases.items():
        reasons = screen(ORIGINAL, ORIGINAL + added)
        assert any(needle in r for r in reasons), (added, reasons)
    assert screen(ORIGINAL, ORIGINAL + "import os\nx = os.environ['A']\n")  # a second read of the environment


def test_a_test_skipped_now_that_ran_at_the_baseline_has_failed_and_an_unfinished_run_is_never_green() -> None:
    def phase(test_id: str, outcome: str, when: str = "call", xfail: bool = False) -> dict[str, object]:
        return {"t": "phase", "id": test_id, "when": when, "outcome": outcome, "xfail": xfail, "message": ""}

    ids = ["t::a", "t::b", "t::c"]
    records = [{"t": "collected", "ids": ids}, {"t": "start", "id": "t::a"}, phase("t::a", "passed"),
               {"t": "start", "id": "t::b"}, phase("t::b", "skipped", "setup"), {"t": "start", "id": "t::c"},
               phase("t::c", "skipped", xfail=True), {"t": "finish", "exit": 0}]
    kwargs = {"exit_code": 0, "timed_out": False, "timeout": 10.0, "channel_problem": "", "output": ""}
    baseline = judge(group(records), ids, None, **kwargs)  # type: ignore[arg-type]
    assert baseline.green  # skipped at the baseline: skips are the project's own
    now = judge(group(records), ids, {"t::b"}, **kwargs)  # type: ignore[arg-type]
    status = {t.test_id: (t.status, t.message) for t in now.tests}
    assert status["t::b"][0] is TestStatus.SKIPPED and status["t::c"][0] is TestStatus.FAILED
    assert "xfailed now, but it ran at the baseline" in status["t::c"][1] and not now.green
    cut = judge(group(records[:3]), ["t::a"], set(), **kwargs)  # type: ignore[arg-type]
    assert not cut.green and "before pytest finished" in cut.problem
    # A pass outside its test's own start .. teardown (a record sent out of order) is never green.
    stray = judge(group([records[0], records[2], records[1], records[-1]]), ["t::a"], set(), **kwargs)  # type: ignore[arg-type]
    assert not stray.green and "out of order" in stray.problem
    # pytest's phases must all be there: a passed call without its teardown is not a pass.
    partial = [records[0], records[1], phase("t::a", "passed", "setup"), phase("t::a", "passed"), records[-1]]
    assert not judge(group(partial), ["t::a"], set(), **kwargs).green  # type: ignore[arg-type]
    running = judge(group([{"t": "start", "id": "t::a"}]), ["t::a"], set(),
                    **{**kwargs, "timed_out": True, "exit_code": -1})  # type: ignore[arg-type]
    assert running.tests[0].status is TestStatus.TIMEOUT and "t::a" in running.problem


def test_the_repository_map_ranks_what_the_tests_reach_first_within_its_budget() -> None:
    files = {"src/a/core.py": "def parse(text):\n    pass\n\n\nclass Lexer:\n    def next(self):\n        pass\n",
             "src/a/util.py": "def helper():\n    pass\n", "src/b/other.py": "def unrelated():\n    pass\n",
             "src/c/named.py": "def wanted(x):\n    pass\n"}
    text = repo_map(files, files.get, shown=["src/a/core.py"], names={"wanted"}, budget=200)
    lines = text.splitlines()
    assert lines[0] == "src/a/core.py: parse(text); Lexer(next)"
    assert lines[1].startswith("src/a/util.py") and lines[2].startswith("src/c/named.py")
    assert len(repo_map(files, files.get, shown=[], names=set(), budget=15).splitlines()) == 1


def test_the_channel_rejects_forged_replayed_and_flooding_writers() -> None:
    import hashlib
    import hmac
    import json
    import os

    from greenloop.repo.results import Channel

    def run(payload: bytes, key: bytes | None = None) -> Channel:
        channel = Channel()
        writer = os.dup(channel.child_fds()[1])
        channel.started()
        data = payload
        if key is not None:  # sign with the real key, as the plugin would
            body = json.dumps({"t": "start", "id": "x", "seq": 1}).encode()
            data = hmac.new(channel.key, body, hashlib.sha256).hexdigest().encode() + b" " + body + b"\n"
            data += data  # the same record again: a replay
        while data:
            data = data[os.write(writer, data[:65536]):]
        os.close(writer)
        channel.wait()
        return channel

    forged = run(b"0" * 64 + b' {"t": "finish", "exit": 0, "seq": 1}\n')
    assert "forged" in forged.problem and forged.records == []
    replayed = run(b"", key=b"real")
    assert len(replayed.records) == 1 and "replayed" in replayed.problem
    flooded = run(b"y" * (3 << 20))
    assert "flooded" in flooded.problem


def test_files_named_with_files_are_always_shown_in_part_or_said_why_not() -> None:
    from greenloop.repo.context import gather

    big = "\n".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(400))
    files = {"pkg/big.py": big}
    failing = Outcome((TestResult("t.py::test_x", TestStatus.FAILED, "assert 1 == 2"),))
    context = gather(failing, read=files.get, protect=lambda p: None, files=["pkg/big.py"], cwd="", roots=("/r",),
                     budget=600, single=True)
    assert [f.path for f in context.files] == ["pkg/big.py"] and context.files[0].names[0].startswith("lines 1-")
    tiny = gather(failing, read=files.get, protect=lambda p: None, files=["pkg/big.py"], cwd="", roots=("/r",),
                  budget=5, single=True)
    assert tiny.files == [] and any("--files pkg/big.py: not shown" in n for n in tiny.notes)
    refused = gather(failing, read=files.get, protect=lambda p: "it is a test", files=["pkg/big.py"], cwd="",
                     roots=("/r",), budget=600)
    assert refused.notes == ("--files pkg/big.py: not shown (it is a test)",)
