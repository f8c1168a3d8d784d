"""How reliably does the embedded model reach green on the demo task within the demo's budget?

Runs `greenloop solve` on examples/demo with the embedded model once per seed, each in a fresh
temporary directory, and prints per-seed attempts/seconds and the overall green rate.

    .venv/bin/python benchmarks/demo_convergence.py --seeds 10 --max-calls 40 --max-seconds 180
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--max-calls", type=int, default=40)
    parser.add_argument("--max-seconds", type=float, default=180)
    parser.add_argument("--task", default="temperature")
    args = parser.parse_args()
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(DEMO / f"test_{args.task}.py", tmp)
            proc = subprocess.run(
                [sys.executable, "-m", "greenloop", "solve", "--tests", f"{tmp}/test_{args.task}.py",
                 "--target", f"{tmp}/{args.task}.py", "--seed", str(seed), "--json",
                 "--max-calls", str(args.max_calls), "--max-seconds", str(args.max_seconds),
                 "--db", f"{tmp}/runs.db"],
                capture_output=True, text=True, check=False,
            )
            result = json.loads(proc.stdout)
            rows.append(result)
            print(f"seed {seed:3d}: {result['status']:9s} attempts {result['attempts']:3d} "
                  f"tests {result['tests_passed']}/{result['tests_total']} seconds {result['seconds']:6.1f}", flush=True)
    green = [r for r in rows if r["status"] == "green"]
    print(f"\ngreen {len(green)}/{len(rows)} within {args.max_calls} model calls / {args.max_seconds:g}s")
    if green:
        print(f"median attempts to green {statistics.median(r['attempts'] for r in green)}, "
              f"median seconds {statistics.median(r['seconds'] for r in green):.1f}, "
              f"max seconds {max(r['seconds'] for r in green):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
