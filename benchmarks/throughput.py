"""How many model calls per second greenloop gets, and what concurrency costs in quality.

Every ratio is against a baseline measured in the same run:

- `samples`: the embedded model, rounds as strategies make them (`--samples` calls of one HumanEval
  problem's prompt, seeds 0..), the calls issued `--parallel` at a time (decoded together by the
  batched decoder) against one at a time, same prompts and seeds: completed samples per second,
  tokens per second, the time to the first candidate of a round, and how many texts were identical.
  `--threads 1,2` repeats it per llama.cpp thread count.
- `passrate`: per-sample pass rate on HumanEval problems (`--problems 0-9`, `--samples` each) of the
  batched decoder at `--parallel` against llama-cpp-python's own `create_completion` one call at a
  time (what the embedded model ran on before batching), same prompts and seeds.
- `server`: `greenloop solve` runs through llama-cpp-python's OpenAI-compatible server on 127.0.0.1
  serving the embedded model, behind a fault-injecting proxy answering 429 (Retry-After) to every
  `--every`-th request: attempts recorded, model calls, requests the server answered, retries
  recorded and 429s injected.

    .venv/bin/python benchmarks/throughput.py samples --problems 0-3 --samples 8 --parallel 8
    .venv/bin/python benchmarks/throughput.py passrate --problems 0-9 --samples 4
    .venv/bin/python benchmarks/throughput.py server --runs 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import httpx

from greenloop.benchmarks.humaneval import load_problems, select
from greenloop.benchmarks.measure import BENCH_LIMITS
from greenloop.execute import TestSuite, WorkerPool
from greenloop.loop.extract import extract_code
from greenloop.loop.prompts import first_messages
from greenloop.loop.solving import STOP
from greenloop.models import Completion, Message
from greenloop.models.local import CODE_PREFILL, LocalModel, embedded_model_path
from greenloop.stub import imported_names

ROOT = Path(__file__).resolve().parent.parent
Job = tuple[list[Message], int]  # messages, seed


def _jobs(problems: str, samples: int) -> list[tuple[Any, Job]]:
    chosen = select(load_problems(), problems, None)
    return [(p, (first_messages(p.task("full"), "examples"), 1000 * i + s))
            for i, p in enumerate(chosen) for s in range(samples)]


def _round(call: Callable[[Job], Completion], jobs: list[Job], parallel: int) -> tuple[list[Completion], float, float]:
    """All jobs, `parallel` in flight; (completions in job order, seconds, seconds to the first)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        futures = [pool.submit(call, job) for job in jobs]
        wait(futures, return_when=FIRST_COMPLETED)
        first = time.perf_counter() - started
        out = [f.result() for f in futures]
    return out, time.perf_counter() - started, first


def samples(args: argparse.Namespace) -> None:
    """Rounds as the strategies make them: `--samples` calls of one problem's prompt, seeds 0.."""
    rounds = [[job for _, job in _jobs(str(i), args.samples)] for i in _indices(args.problems)]
    for threads in args.threads.split(","):
        os.environ["GREENLOOP_THREADS"] = threads
        model = LocalModel(parallel=args.parallel)

        def call(job: Job, model: LocalModel = model) -> Completion:
            return model.complete(job[0], temperature=0.8, max_tokens=args.max_tokens, seed=job[1], stop=STOP)

        call(rounds[0][0])  # load the model and cache the shared system prompt, for both sides alike
        totals = {1: [0, 0, 0.0, 0.0], args.parallel: [0, 0, 0.0, 0.0]}  # samples, tokens, seconds, first
        texts: dict[int, list[str]] = {1: [], args.parallel: []}
        for jobs in rounds:
            # Alternate the sides round by round, so that the machine's other load falls on both alike.
            for side in (1, args.parallel):
                out, seconds, first = _round(call, jobs, side)
                row = totals[side]
                row[0] += len(out)
                row[1] += sum(c.usage.completion_tokens for c in out)
                row[2] += seconds
                row[3] += first
                texts[side] += [c.text for c in out]
        model.close()
        print(f"threads {threads}: {len(rounds)} rounds of {args.samples} samples, max_tokens {args.max_tokens}")
        for side, (n, tokens, seconds, first) in totals.items():
            print(f"  parallel {side}: {n / seconds:.2f} samples/s, {tokens / seconds:.0f} tok/s, "
                  f"first candidate of a round after {first / len(rounds):.2f}s (round {seconds / len(rounds):.1f}s)")
        one, many = totals[1], totals[args.parallel]
        same = sum(a == b for a, b in zip(texts[1], texts[args.parallel], strict=True))
        print(f"  ratio {(many[0] / many[2]) / (one[0] / one[2]):.2f}x samples/s; identical texts {same}/{one[0]}",
              flush=True)


def _indices(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        out += list(range(int(low), int(high or low) + 1))
    return out


def _unbatched() -> Callable[[list[Message], int, int], str]:
    """llama-cpp-python's high-level completion, one call at a time: the embedded model before batching."""
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llama = Llama(model_path=str(embedded_model_path()), n_ctx=4096, n_threads=1, verbose=False)

    def token(t: int) -> str:
        return llama.detokenize([t]).decode("utf-8", "replace") if t >= 0 else ""

    chat = Jinja2ChatFormatter(template=llama.metadata["tokenizer.chat_template"], eos_token=token(llama.token_eos()),
                               bos_token=token(llama.token_bos()))

    def complete(messages: list[Message], seed: int, max_tokens: int) -> str:
        prompt = chat(messages=messages).prompt + CODE_PREFILL
        reply: Any = llama.create_completion(prompt=prompt, temperature=0.8, max_tokens=max_tokens, seed=seed,
                                             stop=[*STOP, "\n```"])
        return CODE_PREFILL + (reply["choices"][0]["text"] or "")

    return complete


def passrate(args: argparse.Namespace) -> None:
    jobs = _jobs(args.problems, args.samples)
    os.environ["GREENLOOP_THREADS"] = "1"
    started = time.perf_counter()
    plain = _unbatched()
    before = [plain(messages, seed, args.max_tokens) for _, (messages, seed) in jobs]
    plain_seconds = time.perf_counter() - started
    model = LocalModel(parallel=args.parallel)
    out, batched_seconds, _ = _round(
        lambda job: model.complete(job[0], temperature=0.8, max_tokens=args.max_tokens, seed=job[1], stop=STOP),
        [job for _, job in jobs], args.parallel)
    model.close()
    passed = {"unbatched": 0, "batched": 0}
    same = 0
    for i, (problem, _) in enumerate(jobs):
        task = problem.task("full")
        required = imported_names(__import__("ast").parse(task.test_source), task.target_module)[0]
        with WorkerPool(TestSuite(task.test_source, task.tests_path.name, task.target_module), BENCH_LIMITS) as pool:
            for side, text in (("unbatched", before[i]), ("batched", out[i].text)):
                code = extract_code(text, required, task.stub)
                passed[side] += bool(code is not None and pool.run(code).green)
        same += before[i] == out[i].text
    n = len(jobs)
    print(f"{n} samples ({args.problems}, {args.samples} each, T=0.8, max_tokens {args.max_tokens})")
    print(f"  unbatched create_completion: {passed['unbatched']}/{n} pass ({100 * passed['unbatched'] / n:.1f}%), "
          f"{plain_seconds:.1f}s")
    print(f"  batched, parallel {args.parallel}: {passed['batched']}/{n} pass ({100 * passed['batched'] / n:.1f}%), "
          f"{batched_seconds:.1f}s; identical texts {same}/{n}")


def _server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path()),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the llama-cpp-python server did not start")


def server(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from faults import Faults, fault_server
    from greenloop.solver import solve
    from greenloop.store import Store
    from greenloop.task import Budget

    tests = (ROOT / "examples" / "demo" / "test_temperature.py")
    port = 18000 + os.getpid() % 1000
    proc = _server(port)
    try:
        for run in range(args.runs):
            script = ["429" if (i + 1) % args.every == 0 else "pass" for i in range(args.calls * 2)]
            faults = Faults(script=script, default="pass", retry_after="0.3", upstream=f"http://127.0.0.1:{port}/v1")
            with tempfile.TemporaryDirectory() as tmp, fault_server(faults) as url:
                (Path(tmp) / tests.name).write_text(tests.read_text())
                result = solve(Path(tmp) / tests.name, Path(tmp) / "temperature.py", model="openai:smollm2",
                               base_url=url, strategy="sample", budget=Budget(max_calls=args.calls),
                               db=Path(tmp) / "runs.db", seed=run, parallel=4)
                attempts = Store(Path(tmp) / "runs.db").attempts(result.run_id)
                numbers = [a["n"] for a in attempts]
                print(f"run {run}: {result.status.value}, {len(attempts)} attempts recorded "
                      f"(unique n: {len(set(numbers)) == len(numbers)}), {result.model_calls} model calls, "
                      f"{faults.count('pass')} requests answered by the server, {result.retries} retries recorded, "
                      f"{faults.count('429')} 429s injected, {result.seconds:.1f}s", flush=True)
    finally:
        proc.terminate()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("samples")
    s.add_argument("--problems", default="0-3")
    s.add_argument("--samples", type=int, default=8, help="samples per round (one problem's prompt)")
    s.add_argument("--parallel", type=int, default=8)
    s.add_argument("--max-tokens", type=int, default=200)
    s.add_argument("--threads", default="1")
    p = sub.add_parser("passrate")
    p.add_argument("--problems", default="0-9")
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=400)
    v = sub.add_parser("server")
    v.add_argument("--runs", type=int, default=3)
    v.add_argument("--calls", type=int, default=12, help="model calls per run")
    v.add_argument("--every", type=int, default=3, help="inject a 429 on every N-th request")
    args = parser.parse_args()
    {"samples": samples, "passrate": passrate, "server": server}[args.what](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
