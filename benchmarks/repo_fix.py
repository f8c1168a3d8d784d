"""Repo mode on seeded bugs: how often does `greenloop fix` get back to green, in how many model calls?

Each bug is seeded into a fresh git copy of benchmarks/repo_fix_pkg (a small, correct package with
its tests), then `greenloop fix -- pytest -x tests/test_<module>.py` runs there (in-process, through
the same API, so the embedded model loads once). Prints per bug the status, model calls and seconds,
then the fix rate and median calls-to-green; each green is checked again with plain pytest.

    .venv/bin/python benchmarks/repo_fix.py                       # scripted model: a wrong fix, then the right one
    .venv/bin/python benchmarks/repo_fix.py --model local --max-calls 8 --threads 1 --bugs mean-operator
    .venv/bin/python benchmarks/repo_fix.py --model local --strategy revise,tree   # both, side by side
    .venv/bin/python benchmarks/repo_fix.py --overhead 600   # fixed cost per run on a 600-file repository

`--overhead N` measures the fixed cost of a run (interpreter probe, copy, collection, baseline run,
clean-up) on a generated repository of N tracked files whose tests already pass: it prints the
test command's own wall time run directly ("before": what the user pays without greenloop) and
`greenloop fix`'s wall time in the same run ("after"), best of 3 each, and the difference.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from greenloop.models import Model, load_model
from greenloop.models.scripted import ScriptedModel
from greenloop.registry import parse_settings
from greenloop.repo import fix
from greenloop.task import Budget

PACKAGE = Path(__file__).resolve().parent / "repo_fix_pkg"


@dataclass(frozen=True)
class Bug:
    name: str
    kind: str
    path: str
    correct: str  # text in the shipped package
    buggy: str  # what the bug turns it into ("" for a missing case)
    wrong: str  # a plausible wrong fix, the scripted model's first reply
    tests: str
    anchor: str = ""  # for a missing case: the line the missing lines went before

    def seed(self, root: Path) -> None:
        path = root / self.path
        text = path.read_text()
        assert text.count(self.correct) == 1, self.name
        path.write_text(text.replace(self.correct, self.buggy))

    def replies(self, root: Path) -> list[str]:
        """A wrong SEARCH/REPLACE fix, then the right one, against the seeded file."""
        if not self.buggy:
            return [_block(self.path, self.anchor, self.wrong + self.anchor),
                    _block(self.path, self.anchor, self.correct + self.anchor)]
        line = next(ln for ln in (root / self.path).read_text().splitlines() if self.buggy in ln)
        return [_block(self.path, line, line.replace(self.buggy, self.wrong)),
                _block(self.path, line, line.replace(self.buggy, self.correct))]


def _block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search.rstrip(chr(10))}\n=======\n{replace.rstrip(chr(10))}\n>>>>>>> REPLACE\n"


BUGS = [
    Bug("chunk-off-by-one", "off-by-one", "src/minitools/chunks.py", "range(0, len(items), size)",
        "range(0, len(items) - 1, size)", "range(1, len(items), size)", "tests/test_chunks.py"),
    Bug("window-off-by-one", "off-by-one", "src/minitools/chunks.py", "range(len(items) - size + 1)",
        "range(len(items) - size)", "range(len(items) - size - 1)", "tests/test_chunks.py"),
    Bug("mean-operator", "wrong operator", "src/minitools/stats.py", "sum(values) / len(values)",
        "sum(values) // len(values)", "sum(values) % len(values)", "tests/test_stats.py"),
    Bug("clamp-operator", "wrong operator", "src/minitools/stats.py", "if value > high:", "if value < high:",
        "if value > low:", "tests/test_stats.py"),
    Bug("leap-operator", "wrong operator", "src/minitools/dates.py", "(year % 100 != 0 or year % 400 == 0)",
        "(year % 100 != 0 and year % 400 == 0)", "(year % 100 == 0 or year % 400 == 0)", "tests/test_dates.py"),
    Bug("plural-missing-case", "missing case", "src/minitools/text.py",
        '    if word.endswith(("s", "x", "z", "ch", "sh")):\n        return word + "es"\n', "",
        '    if word.endswith("x"):\n        return word + "es"\n', "tests/test_text.py",
        anchor='    if word.endswith("y") and word[-2:-1] not in "aeiou":\n'),
]


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args], cwd=root,
                   check=True, capture_output=True)


def run_bug(bug: Bug, args: argparse.Namespace, workdir: Path, model: Model | None,
            strategy: str) -> dict[str, object]:
    root = workdir / f"{strategy}-{bug.name}"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    bug.seed(root)
    seeded = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", bug.tests], cwd=root,
                            capture_output=True, check=False)
    assert seeded.returncode == 1, f"the tests do not catch the seeded bug {bug.name}"
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", f"seed {bug.name}")
    started = time.monotonic()
    # In-process (the API behind `greenloop fix`), so the embedded model is loaded once for all bugs.
    result = fix(["pytest", "-x", bug.tests], cwd=root, model=model or ScriptedModel(bug.replies(root)),
                 budget=Budget(args.max_calls, args.max_seconds), db=workdir / "runs.db", seed=args.seed,
                 strategy=strategy, strategy_params=parse_settings(args.settings), workers=args.workers)
    wall = time.monotonic() - started
    # Independent check: plain pytest in the user's tree, outside greenloop.
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", bug.tests], cwd=root,
                           capture_output=True, text=True, check=False)
    row = result.to_json()
    row.update(bug=bug.name, kind=bug.kind, wall=wall, tree_green=check.returncode == 0)
    return row


def _overhead(n_files: int) -> int:
    with tempfile.TemporaryDirectory(prefix="greenloop-overhead-") as tmp:
        root = Path(tmp) / "big"
        for i in range(n_files - 3):
            path = root / "src" / "big" / f"sub{i // 50}" / f"mod{i}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            (path.parent / "__init__.py").touch()
            path.write_text(f"def f{i}(x):\n    return x + {i}\n" + "# padding\n" * 30)
        (root / "src" / "big" / "__init__.py").write_text("from big.sub0.mod0 import f0\n")
        (root / "tests").mkdir()
        (root / "tests" / "test_big.py").write_text("from big import f0\n\n\ndef test_f0():\n    assert f0(1) == 1\n")
        (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["src"]\n')
        _git(root, "init", "-q")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", "big")
        tracked = len(subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True).stdout.split())
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
        direct, whole = [], []
        for _ in range(3):
            started = time.monotonic()
            subprocess.run(command, cwd=root, capture_output=True, check=True)
            direct.append(time.monotonic() - started)
            started = time.monotonic()
            result = fix(["python", "-m", "pytest", "-q", "tests"], cwd=root, model=ScriptedModel(["unused"]),
                         db=Path(tmp) / "runs.db", python=sys.executable)
            whole.append(time.monotonic() - started)
            assert result.status.value == "green", result.message
    print(f"repository: {tracked} tracked files")
    print(f"before (the test command alone, direct):  {min(direct):.2f}s")
    print(f"after  (greenloop fix, already green):     {min(whole):.2f}s")
    print(f"fixed overhead per run: {min(whole) - min(direct):.2f}s (target <= 1.5s)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="scripted", help="scripted (built-in replies) or any --model spec")
    parser.add_argument("--bugs", default="", help="comma-separated bug names (default: all)")
    parser.add_argument("--max-calls", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=180)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="candidates tested at once (fix --workers)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (the repositories and runs.db)")
    parser.add_argument("--strategy", default="auto", help="one strategy (default auto, as fix), or several comma-separated")
    parser.add_argument("--set", dest="settings", action="append", metavar="KEY=VALUE", help="a strategy parameter")
    parser.add_argument("--overhead", type=int, default=0, metavar="N",
                        help="measure the fixed cost of a run on a generated N-file repository instead")
    parser.add_argument("--threads", type=int, default=0,
                        help="llama.cpp threads for the embedded model (default: its own choice). On a machine shared "
                             "with another model process, 1 avoids two thread pools spinning against each other")
    args = parser.parse_args()
    if args.overhead:
        return _overhead(args.overhead)
    chosen = [b for b in BUGS if not args.bugs or b.name in args.bugs.split(",")]
    if not chosen:
        parser.error(f"no such bug; choose from {', '.join(b.name for b in BUGS)}")
    if args.threads:
        os.cpu_count = lambda: args.threads  # LocalModel sizes llama.cpp's thread pool from it
    model = None if args.model == "scripted" else load_model(args.model)
    strategies = [name for name in args.strategy.split(",") if name]
    summary = []
    with tempfile.TemporaryDirectory(prefix="greenloop-repo-bench-") as scratch:
        tmp = args.keep or scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        for strategy in strategies:
            rows = []
            for bug in chosen:
                r = run_bug(bug, args, Path(tmp), model, strategy)
                rows.append(r)
                how = f"{r['calls_to_green']} ({r['green_kind']})" if r["status"] == "green" else "-"
                print(f"{strategy:7s} {bug.name:20s} {bug.kind:15s} {r['status']!s:10s} calls-to-green {how:14s} "
                      f"calls {r['model_calls']!s:>2} repairs {r['repairs']!s:>3} run {float(r['seconds']):6.1f}s "  # type: ignore[arg-type]
                      f"tree {'green' if r['tree_green'] else 'red'}", flush=True)
            green = [r for r in rows if r["status"] == "green"]
            assert all(r["tree_green"] for r in green), "a run said green but the tree's tests fail"
            calls = [int(r["calls_to_green"]) for r in green]  # type: ignore[call-overload]
            summary.append(f"{strategy:7s} fixed {len(green)}/{len(rows)} within {args.max_calls} calls / "
                           f"{args.max_seconds:g}s each; calls-to-green median "
                           f"{statistics.median(calls) if calls else '-'}, max {max(calls) if calls else '-'}; "
                           f"wall {sum(float(r['wall']) for r in rows):.1f}s")  # type: ignore[arg-type]
    print(f"\nmodel {args.model}:")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
