"""Compare search strategies on HumanEval with the same model, problems and budget.

Runs `greenloop bench humaneval` once per strategy (each resumes where an earlier invocation
stopped, so an interrupted comparison can be re-run), then prints a markdown table and the
ratios the search must beat: tree vs single, and tree vs sample at the same number of calls.

    .venv/bin/python benchmarks/strategies.py --problems 0-39 --runs single:1,sample:50,revise:50,tree:50 \
        --db bench.db --out-dir bench-results
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", default="0-39")
    parser.add_argument("--runs", default="single:1,sample:50,revise:50,tree:50", help="strategy:max-calls,...")
    parser.add_argument("--model", default="local")
    parser.add_argument("--tests", default="full")
    parser.add_argument("--db", default="bench.db")
    parser.add_argument("--out-dir", default="bench-results")
    parser.add_argument("--only-table", action="store_true", help="print the table from earlier results")
    args = parser.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for run in args.runs.split(","):
        strategy, _, calls = run.partition(":")
        path = out / f"{strategy}-{calls}-{args.tests}.json"
        if not args.only_table:
            proc = subprocess.run(
                [sys.executable, "-m", "greenloop", "bench", "humaneval", "--strategy", strategy, "--max-calls", calls,
                 "--problems", args.problems, "--model", args.model, "--tests", args.tests, "--db", args.db,
                 "--json", "--out", str(path)],
                capture_output=True, text=True, check=False,
            )
            if proc.returncode != 0:
                print(f"{strategy}: exit {proc.returncode}: {proc.stderr.strip()[-500:]}", file=sys.stderr)
                return proc.returncode
        rows.append(json.loads(path.read_text()))
    print("| strategy | calls ≤ | problems | solved | pass rate | model calls | median calls to green | repair wins "
          "| seconds | in the model |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['strategy']} | {r['max_calls']} | {r['problems']} | {r['solved']} | {100 * r['pass_rate']:.1f}% "
              f"| {r['model_calls']} | {r['median_calls_to_green']} | {r['repair_wins']} | {r['seconds']:.0f} "
              f"| {100 * r['model_share']:.1f}% |")
    by = {r["strategy"]: r for r in rows}
    if "tree" in by:
        for other in ("single", "sample", "revise"):
            if other in by and by[other]["solved"]:
                print(f"tree / {other}: {by['tree']['solved'] / by[other]['solved']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
