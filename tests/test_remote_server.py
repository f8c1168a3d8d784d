"""`openai:` against llama-cpp-python's own OpenAI-compatible server on 127.0.0.1 serving the
embedded model (the `llama-cpp-python[server]` extra), started by a fixture; with and without a
fault-injecting proxy in front of it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from faults import Faults, fault_server
from greenloop.loop.engine import RunStatus
from greenloop.models import load_model
from greenloop.models.http import RetryPolicy
from greenloop.models.local import embedded_model_path
from greenloop.models.remote import OpenAIModel
from greenloop.solver import solve
from greenloop.store import Store
from greenloop.task import Budget

pytestmark = pytest.mark.model
pytest.importorskip("llama_cpp.server", reason="needs the llama-cpp-python[server] extra (make test installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"  # a file, not a pipe nobody drains
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path()), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "4096", "--n_threads", "1"],
            stdout=subprocess.DEVNULL, stderr=sink, stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/models", timeout=1.0)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the llama-cpp-python server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_server_answers_with_usage(server: str) -> None:
    model = load_model("openai:smollm2", base_url=server)
    model.check()
    assert model.capabilities.max_parallel == 4 and model.prompt_style == "tests"
    try:
        reply = model.complete([{"role": "user", "content": "Write a Python function add(a, b)."}], temperature=0.2,
                               max_tokens=32, seed=1)
    finally:
        model.close()  # type: ignore[attr-defined]
    assert reply.text and reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 32
    assert reply.usage.cost == 0.0 and reply.usage.retries == 0


def test_parallel_4_through_the_server_loses_and_duplicates_nothing(server: str, workspace: Path) -> None:
    faults = Faults(default="pass", upstream=server)
    with fault_server(faults) as url:
        model = OpenAIModel("smollm2", url, "")
        result = solve(workspace / "test_slugger.py", workspace / "slugger.py", model=model, strategy="sample",
                       budget=Budget(max_calls=8), db=workspace / "runs.db", parallel=4, seed=3)
        model.close()
    attempts = Store(workspace / "runs.db").attempts(result.run_id)
    assert result.model_calls == 8 == faults.count("pass") == len(attempts)
    assert sorted(a["n"] for a in attempts) == list(range(1, 9))
    assert sorted(b["seed"] for _, _, b in faults.seen) == list(range(3, 11))
    assert all(a["prompt_tokens"] > 0 for a in attempts)


def test_injected_429s_are_retried_and_recorded(server: str, workspace: Path) -> None:
    script = ["429" if i % 3 == 1 else "pass" for i in range(30)]
    faults = Faults(script=script, default="pass", upstream=server, retry_after="0.1")
    with fault_server(faults) as url:
        model = OpenAIModel("smollm2", url, "", policy=RetryPolicy(retries=4, backoff=0.05))
        result = solve(workspace / "test_slugger.py", workspace / "slugger.py", model=model, strategy="sample",
                       budget=Budget(max_calls=8), db=workspace / "runs.db", parallel=4)
        model.close()
    assert result.status is RunStatus.EXHAUSTED and result.model_calls == 8 == faults.count("pass")
    assert result.retries == faults.count("429") >= 3
    attempts = Store(workspace / "runs.db").attempts(result.run_id)
    assert len(attempts) == 8
    assert sum(a["retries"] for a in attempts) == result.retries, "each attempt keeps the retries behind its reply"
