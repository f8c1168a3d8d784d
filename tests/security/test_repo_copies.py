"""One candidate must not change another's verdict through the private copies (`fix --workers`):
leftovers that survive a reset, or resources taken from a clean re-run. Real git, pytest and sandbox."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from test_repo_fix import BUG, FIXED, PACKAGE, block, fix, make_repo, script, tree_state

CART = "src/shop/cart.py"
HEAD = 'def total(prices, discount=0):\n    """Sum of the prices, less a percentage discount."""\n    subtotal = 0\n' + BUG


def attempts(tmp_path: Path, run_id: str) -> list[tuple[int, str, int, int]]:
    with sqlite3.connect(tmp_path / "runs.db") as db:
        return list(db.execute("SELECT n, kind, passed, green FROM attempts WHERE run_id = ? ORDER BY n", (run_id,)))


def test_a_git_named_leftover_does_not_reach_the_next_candidate(tmp_path: Path) -> None:
    """git skips anything named `.git` at every depth, so `clean` left the marker one candidate
    planted; the next, right only when the marker exists, was judged green in the warm run."""
    plant = block(CART, "def total(prices, discount=0):",
                  "import os as _o\n_p = _o.path.join(_o.path.dirname(__file__), '.git')\n"
                  "if not _o.path.exists(_p):\n    _f = open(_p, 'w'); _f.write('x'); _f.close()\n\n\n"
                  "def total(prices, discount=0):")
    cheat = block(CART, HEAD, HEAD.replace(BUG, FIXED).replace(
        "    subtotal = 0\n", "    import os\n    if not os.path.exists(os.path.join(os.path.dirname(__file__), '.git')):\n"
        "        return -1\n    subtotal = 0\n"))
    repo = make_repo(tmp_path / "repo", PACKAGE)
    before = tree_state(repo)
    proc = fix(repo, script(tmp_path, plant, cheat), extra=("--max-calls", "2"))
    result = json.loads(proc.stdout)
    assert result["status"] == "exhausted" and tree_state(repo) == before
    assert [(n, kind, green) for n, kind, _, green in attempts(tmp_path, result["run_id"])] == \
        [(0, "baseline", 0), (1, "model", 0), (2, "model", 0)], "the cheat saw no marker: red in the warm run too"


def test_a_candidate_hogging_the_sandbox_uid_cannot_fail_anothers_clean_re_run(tmp_path: Path) -> None:
    """Candidates share the sandbox's uid and its process limit; the clean re-run waits until no
    candidate runs, so a hog running beside a right fix does not fail its clean re-run. Timing: the
    fix's warm run starts its threads at about 4 s, the hog takes every process the uid may have
    from 8 s to 23 s, and a clean re-run started at once would start its threads at about 9 s."""
    files = dict(PACKAGE)
    files["tests/test_cart.py"] = (
        "import time\nfrom concurrent.futures import ThreadPoolExecutor\nfrom shop import total\n\n\n"
        "def test_total():\n    time.sleep(4)\n    with ThreadPoolExecutor(8) as ex:\n"
        "        assert list(ex.map(total, [[1, 2, 3]] * 16)) == [6] * 16\n\n\n"
        "def test_discount():\n    assert total([10, 10], discount=50) == 10\n")
    hog = ("import threading as _t\nimport time as _tm\n\n\ndef _hold():\n    _tm.sleep(20)\n\n\ndef _ramp():\n"
           "    _tm.sleep(8)\n    end = _tm.time() + 15\n    while _tm.time() < end:\n        try:\n"
           "            _t.Thread(target=_hold, daemon=True).start()\n        except RuntimeError:\n"
           "            _tm.sleep(0.01)\n\n\n_ramp()\n\n\ndef total(prices, discount=0):")
    repo = make_repo(tmp_path / "repo", files)
    proc = fix(repo, script(tmp_path, block(CART, "def total(prices, discount=0):", hog), block(CART, BUG, FIXED)),
               extra=("--max-calls", "2", "--workers", "2", "--parallel", "2", "--strategy", "sample"))
    result = json.loads(proc.stdout)
    assert result["status"] == "green" and result["applied"], result["message"]
    assert FIXED in (repo / CART).read_text() and "_ramp" not in (repo / CART).read_text()
