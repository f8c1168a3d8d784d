"""Repo mode on bugs seeded into vendored copies of real packages (toolz, jmespath, xmltodict).

For each bug: a fresh git repository holding one package from benchmarks/real_repos/ with a
one-line bug seeded (never in an `__init__.py`), then `greenloop fix -- python -m pytest -q tests`
through the in-process API. Reported per bug:
- `shown`: whether the file holding the bug is the file the first prompt shows, with the embedded
  model's prompt (one-file `whole` format, its 4,096-token context, 768 tokens kept for the reply);
- `green`: whether a scripted reply of the true fix ends green (applied, and plain pytest agrees);
- the seconds of the run.
With `--model local` (or any spec) the model is real instead and the green count is its own.

    .venv/bin/python benchmarks/real_repos.py
    .venv/bin/python benchmarks/real_repos.py --model local --max-calls 5
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from greenloop.models import Model, load_model
from greenloop.models.scripted import ScriptedModel
from greenloop.repo import fix
from greenloop.store import Store
from greenloop.task import Budget

HERE = Path(__file__).resolve().parent / "real_repos"
COMMAND = ["python", "-m", "pytest", "-q", "tests"]


@dataclass(frozen=True)
class Bug:
    name: str
    package: str  # directory under real_repos/
    path: str  # the file holding the bug, relative to the package directory
    correct: str
    buggy: str

    def seed(self, root: Path) -> None:
        path = root / self.path
        text = path.read_text()
        assert text.count(self.correct) == 1, self.name
        path.write_text(text.replace(self.correct, self.buggy))

    def fix_reply(self, root: Path) -> str:
        line = next(ln for ln in (root / self.path).read_text().splitlines() if self.buggy in ln)
        return (f"{self.path}\n<<<<<<< SEARCH\n{line}\n=======\n{line.replace(self.buggy, self.correct)}\n"
                ">>>>>>> REPLACE\n")


BUGS = [
    Bug("toolz-tail", "toolz", "toolz/itertoolz.py", "return seq[-n:]", "return seq[-n + 1:]"),
    Bug("toolz-frequencies", "toolz", "toolz/itertoolz.py", "d[item] += 1", "d[item] = 1"),
    Bug("toolz-merge-with", "toolz", "toolz/dicttoolz.py", "result[k] = func(v.__self__)",
        "result[k] = func(v.__self__[-1:])"),
    Bug("toolz-get-in", "toolz", "toolz/dicttoolz.py", "except (KeyError, IndexError, TypeError):",
        "except (KeyError, TypeError):"),
    Bug("jmespath-avg", "jmespath", "jmespath/functions.py", "return sum(arg) / len(arg)",
        "return sum(arg) / (len(arg) + 1)"),
    Bug("jmespath-starts-with", "jmespath", "jmespath/functions.py", "return search.startswith(suffix)",
        "return suffix.startswith(search)"),
    Bug("jmespath-index", "jmespath", "jmespath/visitor.py", "return value[node['value']]",
        "return value[node['value'] - 1]"),
    Bug("xmltodict-repeated", "xmltodict", "xmltodict.py", "item[key] = [value, data]", "item[key] = [data, value]"),
    Bug("xmltodict-strip", "xmltodict", "xmltodict.py", "data = data.strip() or None", "data = data.lstrip() or None"),
    Bug("xmltodict-bool", "xmltodict", "xmltodict.py", 'return "true" if value else "false"',
        'return "true" if not value else "false"'),
    Bug("xmltodict-force-list", "xmltodict", "xmltodict.py", "return key in self.force_list",
        "return key not in self.force_list"),
]


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args], cwd=root,
                   check=True, capture_output=True)


def run_bug(bug: Bug, args: argparse.Namespace, workdir: Path, model: Model | None) -> dict[str, object]:
    root = workdir / bug.name
    shutil.copytree(HERE / bug.package, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    bug.seed(root)
    seeded = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=root,
                            capture_output=True, check=False)
    assert seeded.returncode == 1, f"the tests do not catch the seeded bug {bug.name}"
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", f"seed {bug.name}")
    scripted = ScriptedModel([bug.fix_reply(root)], prompt_style="examples")
    scripted.n_ctx = 4096  # type: ignore[attr-defined]  # the embedded model's context: the same budget
    chosen = model or scripted
    started = time.monotonic()
    result = fix(COMMAND, cwd=root, model=chosen, budget=Budget(args.max_calls, args.max_seconds),
                 db=workdir / "runs.db", python=sys.executable, edit_format="whole")
    wall = time.monotonic() - started
    store = Store(workdir / "runs.db")
    asked = [a for a in store.attempts(result.run_id) if a["n"] > 0 and a["messages"]]
    store.close()
    first = asked[0]["messages"][-1]["content"] if asked else ""  # the first prompt, whichever model
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=root,
                           capture_output=True, text=True, check=False)
    return {"bug": bug.name, "file": bug.path, "status": result.status.value, "calls": result.model_calls,
            "shown": f"Fix the bug in {bug.path}." in first,
            "context": result.context_files, "seconds": result.seconds, "wall": wall,
            "tree_green": check.returncode == 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="scripted", help="scripted (the true fix) or any --model spec")
    parser.add_argument("--bugs", default="", help="comma-separated bug names (default: all)")
    parser.add_argument("--max-calls", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=300)
    args = parser.parse_args()
    chosen = [b for b in BUGS if not args.bugs or b.name in args.bugs.split(",")]
    model = None if args.model == "scripted" else load_model(args.model)
    rows = []
    with tempfile.TemporaryDirectory(prefix="greenloop-real-repos-") as tmp:
        for bug in chosen:
            r = run_bug(bug, args, Path(tmp), model)
            rows.append(r)
            print(f"{bug.name:22s} {bug.path:22s} shown {'yes' if r['shown'] else 'NO ':3s} "
                  f"{r['status']!s:10s} calls {r['calls']!s:>2} run {float(r['seconds']):5.1f}s "  # type: ignore[arg-type]
                  f"tree {'green' if r['tree_green'] else 'red'}", flush=True)
            if not r["shown"]:
                print(f"    shown instead: {r['context']}")
    shown = sum(bool(r["shown"]) for r in rows)
    green = [r for r in rows if r["status"] == "green"]
    assert all(r["tree_green"] for r in green), "a run said green but the tree's tests fail"
    print(f"\nbuggy file shown in the first prompt (embedded model's format and budget): {shown}/{len(rows)}")
    print(f"green with {'the true fix, scripted' if model is None else args.model}: {len(green)}/{len(rows)}; "
          f"median run {sorted(float(r['seconds']) for r in rows)[len(rows) // 2]:.1f}s")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
