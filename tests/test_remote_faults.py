"""Remote models against a real fault-injecting HTTP server on 127.0.0.1: retries with backoff,
Retry-After, timeouts, resets and malformed answers; the run records every call, and cost."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import GOOD, WRONG, fenced
from faults import Faults, fault_server
from greenloop.loop.engine import RunStatus
from greenloop.models import ModelCallFailed
from greenloop.models.http import RetryPolicy, retry_after
from greenloop.models.prices import Price, price_for
from greenloop.models.remote import AnthropicModel, OpenAIModel
from greenloop.solver import solve
from greenloop.store import Store
from greenloop.task import Budget

FAST = RetryPolicy(retries=5, backoff=0.01, max_backoff=0.05)
ASK = [{"role": "user", "content": "write f"}]


def openai(url: str, policy: RetryPolicy = FAST, timeout: float = 5.0, name: str = "faulty") -> OpenAIModel:
    return OpenAIModel(name, url, "sk-test", timeout=timeout, policy=policy)


def test_every_kind_of_fault_is_retried_until_an_answer() -> None:
    faults = Faults(script=["429", "500", "badjson", "reset", "ok"], retry_after="0.3")
    with fault_server(faults) as url:
        model = openai(url)
        started = time.monotonic()
        reply = model.complete(ASK, temperature=0.5, max_tokens=50, seed=1)
        elapsed = time.monotonic() - started
        model.close()
    assert reply.text == faults.reply and reply.usage.retries == 4
    assert [b for _, b, _ in faults.seen] == ["429", "500", "badjson", "reset", "ok"]
    # The 429's Retry-After (0.3 s) was honoured rather than the 10 ms backoff.
    assert faults.seen[1][0] - faults.seen[0][0] >= 0.29 and elapsed >= 0.3


def test_a_hung_request_times_out_and_is_retried() -> None:
    faults = Faults(script=["hang", "ok"], hang_seconds=2.0)
    with fault_server(faults) as url:
        model = openai(url, timeout=0.5)
        reply = model.complete(ASK, temperature=0.5, max_tokens=50, seed=1)
        model.close()
    assert reply.usage.retries == 1 and faults.count("hang") == 1 and faults.count("ok") == 1


def test_spent_retries_end_in_one_clear_line() -> None:
    faults = Faults(default="500")
    with fault_server(faults) as url:
        model = openai(url, RetryPolicy(retries=2, backoff=0.01))
        with pytest.raises(ModelCallFailed) as failed:
            model.complete(ASK, temperature=0.5, max_tokens=50, seed=1)
        model.close()
    message = str(failed.value)
    assert "\n" not in message and "answered 500, and still did after 2 retries" in message
    assert failed.value.retries == 2 and faults.count("500") == 3


def test_client_errors_are_not_retried_and_long_waits_are_refused() -> None:
    faults = Faults(script=["400", "429"], retry_after="3600")
    with fault_server(faults) as url:
        model = openai(url)
        with pytest.raises(ModelCallFailed, match="answered 400"):
            model.complete(ASK, temperature=0.5, max_tokens=50, seed=1)
        with pytest.raises(ModelCallFailed, match="asks to wait 3600s"):
            model.complete(ASK, temperature=0.5, max_tokens=50, seed=1)
        model.close()
    assert len(faults.seen) == 2


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("2.5") == 2.5 and retry_after(None) is None and retry_after("soon") is None
    in_a_minute = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    assert 55 <= (retry_after(in_a_minute) or 0) <= 61
    policy = RetryPolicy(backoff=1.0, max_backoff=4.0)
    import random

    rng = random.Random(0)
    delays = [policy.delay(retry, None, rng) for retry in range(6) for _ in range(20)]
    assert all(0 <= d <= 4.0 for d in delays) and len(set(delays)) > 50  # full jitter, capped


def test_parallel_run_under_429s_records_every_call_and_retry(workspace: Path) -> None:
    # Every third request is rate limited; four calls in flight at once.
    script = ["429" if i % 3 == 2 else "ok" for i in range(40)]
    faults = Faults(script=script, reply=fenced(WRONG), retry_after="0.05")
    with fault_server(faults) as url:
        model = openai(url)
        result = solve(workspace / "test_slugger.py", workspace / "slugger.py", model=model, strategy="sample",
                       budget=Budget(max_calls=12), db=workspace / "runs.db", parallel=4)
        model.close()
    attempts = Store(workspace / "runs.db").attempts(result.run_id)
    assert result.status is RunStatus.EXHAUSTED and result.model_calls == 12 == faults.count("ok")
    assert len(attempts) == 12 and sorted(a["n"] for a in attempts) == list(range(1, 13))
    assert result.retries == faults.count("429") >= 4
    # No call was lost or sent twice: twelve answered requests, twelve different seeds.
    bodies = [body for _, behaviour, body in faults.seen if behaviour == "ok"]
    assert len({b["seed"] for b in bodies}) == 12


def test_a_call_that_keeps_failing_is_recorded_and_ends_the_run(workspace: Path) -> None:
    faults = Faults(script=["ok"], default="500", reply=fenced(WRONG))
    with fault_server(faults) as url:
        model = openai(url, RetryPolicy(retries=1, backoff=0.01))
        result = solve(workspace / "test_slugger.py", workspace / "slugger.py", model=model, strategy="revise",
                       budget=Budget(max_calls=5), db=workspace / "runs.db", parallel=1)
        model.close()
    assert result.status is RunStatus.ERROR and "answered 500, and still did after 1 retries" in result.message
    attempts = Store(workspace / "runs.db").attempts(result.run_id)
    assert [a["kind"] for a in attempts] == ["model", "error"]
    assert "answered 500" in attempts[1]["feedback"] and attempts[1]["code"] is None
    assert not (workspace / "slugger.py").exists()


def test_cli_exits_3_with_one_line_when_the_endpoint_keeps_failing(workspace: Path) -> None:
    faults = Faults(default="429", retry_after="0")
    with fault_server(faults) as url:
        proc = subprocess.run(
            [sys.executable, "-m", "greenloop", "solve", "--tests", "test_slugger.py", "--target", "slugger.py",
             "--model", "openai:faulty", "--base-url", url, "--db", "runs.db", "--json", "--parallel", "2"],
            cwd=workspace, capture_output=True, text=True, timeout=200, stdin=subprocess.DEVNULL,
        )
    assert proc.returncode == 3, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "error" and "answered 429, and still did after 5 retries" in data["message"]
    # Each failed call made six requests (five of them retries), and every retry is counted.
    failed_calls, rest = divmod(faults.count("429"), 6)
    assert rest == 0 and failed_calls >= 1 and data["retries"] == 5 * failed_calls
    assert proc.stderr.count("\n") <= 1


def test_cost_counts_cached_prompt_tokens_at_their_price(workspace: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('["openai:priced"]\ninput = 2.0\noutput = 10.0\ncached_input = 0.5\n')
    monkeypatch.setenv("GREENLOOP_PRICES", str(prices))
    usage = {"prompt_tokens": 1000, "completion_tokens": 100, "prompt_tokens_details": {"cached_tokens": 400}}
    faults = Faults(usage=usage, replies=[fenced(WRONG), fenced(WRONG)], reply=fenced(GOOD))
    with fault_server(faults) as url:
        model = openai(url, name="priced")
        reply = model.complete(ASK, temperature=0.5, max_tokens=50, seed=1)
        # 600 fresh at $2/M, 400 cached at $0.5/M, 100 out at $10/M
        assert reply.usage.cost == pytest.approx((600 * 2.0 + 400 * 0.5 + 100 * 10.0) / 1e6)
        assert reply.usage.cached_tokens == 400
        result = solve(workspace / "test_slugger.py", workspace / "slugger.py", model=model, strategy="revise",
                       budget=Budget(max_calls=5), db=workspace / "runs.db", parallel=1)
        model.close()
    assert result.status is RunStatus.GREEN and result.cost == pytest.approx(2 * reply.usage.cost)
    run = Store(workspace / "runs.db").find_run(result.run_id)
    assert run is not None and run["cost"] == pytest.approx(result.cost)
    attempts = Store(workspace / "runs.db").attempts(result.run_id)
    assert [a["cost"] for a in attempts] == pytest.approx([reply.usage.cost] * 2)


def test_max_cost_stops_the_run(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"openai:dear": {"input": 10000.0, "output": 0.0}}))
    monkeypatch.setenv("GREENLOOP_PRICES", str(prices))
    faults = Faults(default="ok", reply=fenced(WRONG), usage={"prompt_tokens": 1, "completion_tokens": 1})
    with fault_server(faults) as url:  # each call costs one cent
        model = openai(url, name="dear")
        result = solve(workspace / "test_slugger.py", workspace / "slugger.py", model=model, strategy="sample",
                       budget=Budget(max_calls=50, max_cost=0.025), db=workspace / "runs.db", parallel=1)
        model.close()
    assert result.status is RunStatus.EXHAUSTED and result.model_calls == 3
    assert "within $0.025 (spent $0.0300)" in result.message


def test_prices_cover_dated_variants_and_unknown_models_cost_nothing() -> None:
    assert price_for("anthropic:claude-sonnet-4-5-20250929") == Price(3.0, 15.0, 0.30, 3.75)
    assert price_for("openai:gpt-4o-mini-2024-07-18") == price_for("openai:gpt-4o-mini") != price_for("openai:gpt-4o")
    assert price_for("openai:qwen2.5-coder:7b") is None and price_for("local") is None


def test_anthropic_usage_counts_cache_reads_and_writes() -> None:
    usage = {"input_tokens": 100, "cache_read_input_tokens": 800, "cache_creation_input_tokens": 100,
             "output_tokens": 50}
    faults = Faults(script=["429", "ok"], usage=usage, retry_after="0")
    with fault_server(faults) as url:
        model = AnthropicModel("claude-sonnet-4-5", url, "ak-test", policy=FAST)
        reply = model.complete([{"role": "system", "content": "be brief"}, *ASK], temperature=0.5, max_tokens=50,
                               seed=1)
        model.close()
    assert reply.text == faults.reply and reply.usage.retries == 1
    assert (reply.usage.prompt_tokens, reply.usage.cached_tokens, reply.usage.completion_tokens) == (1000, 800, 50)
    assert reply.usage.cost == pytest.approx((100 * 3.0 + 800 * 0.30 + 100 * 3.75 + 50 * 15.0) / 1e6)
