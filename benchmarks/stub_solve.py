"""Solve rate and model calls to green on tests/stub_corpus with the embedded model, before and after.

For each corpus file and seed, `greenloop solve` runs twice in fresh temporary directories, the same
in everything but the starting stub: "before" is the stub the earlier derivation (`src/greenloop/stub.py`,
loaded from git in this run) writes, "after" is the current one. The stub goes in as the target's
text, which the loop takes as its stub exactly as it takes a derived one. CPU heavy (about 2 s per
model call here): use `--files` and `--max-calls` to keep a run short.

    .venv/bin/python benchmarks/stub_solve.py --files roman,brackets,leap --max-calls 20 --seeds 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from stub_coverage import ROOT, baseline_derive, target_module


def solve(test_source: str, module: str, stub: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tests, target = Path(tmp) / f"test_{module}.py", Path(tmp) / f"{module}.py"
        tests.write_text(test_source)
        target.write_text(stub)
        command = [sys.executable, "-m", "greenloop", "solve", "--tests", str(tests), "--target", str(target),
                   "--seed", str(seed), "--json", "--max-calls", str(args.max_calls),
                   "--max-seconds", str(args.max_seconds), "--db", f"{tmp}/runs.db", "--model", args.model]
        if args.strategy:
            command += ["--strategy", args.strategy]
        proc = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp)
        failed = {"status": f"failed (exit {proc.returncode}): {proc.stderr.strip()[-200:]}", "model_calls": 0,
                  "tests_passed": 0, "tests_total": 0, "seconds": 0.0}
        try:
            result: dict[str, Any] = json.loads(proc.stdout)
        except json.JSONDecodeError:
            return failed
        # An error reply ({"status": "error", "message": ...}) has no counts: a failed run, said as such.
        return result if all(key in result for key in failed) else failed | {"status": f"failed: {result}"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT / "tests" / "stub_corpus"))
    parser.add_argument("--files", default="", help="comma-separated parts of corpus file names (default: all)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--max-calls", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--model", default="local")
    parser.add_argument("--strategy", default="", help="default: solve's own default")
    parser.add_argument("--baseline-rev", default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from greenloop.stub import derive_stub

    before, rev = baseline_derive(args.baseline_rev)
    wanted = [w for w in args.files.split(",") if w]
    files = [p for p in sorted(Path(args.corpus).glob("case_*.py")) if not wanted or any(w in p.name for w in wanted)]
    print(f"baseline: stub.py at {rev}; {len(files)} files, seeds {args.first_seed}..{args.first_seed + args.seeds - 1},"
          f" at most {args.max_calls} calls and {args.max_seconds:g}s per run\n")
    print("| file | seed | before | calls | tests | after | calls | tests |")
    print("| --- | ---: | --- | ---: | ---: | --- | ---: | ---: |")
    results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for path in files:
        source = path.read_text()
        module = target_module(source)
        stubs = {"before": before(source, module), "after": derive_stub(source, module)}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            row = {label: solve(source, module, stub, seed, args) for label, stub in stubs.items()}
            for label, r in row.items():
                results[label].append(r)
            b, a = row["before"], row["after"]
            print(f"| {path.stem} | {seed} | {b['status']} | {b['model_calls']} | {b['tests_passed']}/{b['tests_total']} "
                  f"| {a['status']} | {a['model_calls']} | {a['tests_passed']}/{a['tests_total']} |", flush=True)
    print()
    for label, rows in results.items():
        green = [r for r in rows if r["status"] == "green"]
        median = statistics.median(r["model_calls"] for r in green) if green else "-"
        passed = sum(r["tests_passed"] for r in rows) / max(1, sum(r["tests_total"] for r in rows))
        print(f"{label}: green {len(green)}/{len(rows)}; median model calls to green {median}; "
              f"tests passed by the best candidates {passed:.0%}; {sum(r['seconds'] for r in rows):.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
