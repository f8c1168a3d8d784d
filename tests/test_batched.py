"""The embedded model's batched decoder: concurrent calls decoded together on one llama.cpp context.

Real llama.cpp, real model (SmolLM2-135M); short replies keep it quick.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import SLUG_TESTS
from greenloop.models import Completion, ModelCallFailed
from greenloop.models.batched import Generated
from greenloop.models.local import LocalModel
from greenloop.solver import solve
from greenloop.store import Store
from greenloop.task import Budget

pytestmark = pytest.mark.model

SYSTEM = {"role": "system", "content": "You write Python modules."}
ASKS = [
    "Complete this code:\n```python\ndef add(a, b):\n    \"\"\"Return a plus b.\n    >>> add(1, 2)\n    3\n    \"\"\"\n```",
    "Complete this code:\n```python\ndef is_even(n):\n    \"\"\"True when n is even.\n    >>> is_even(4)\n    True\n    \"\"\"\n```",
    "Complete this code:\n```python\ndef shout(s):\n    \"\"\"s in capitals with a '!'.\n    >>> shout('hi')\n    'HI!'\n    \"\"\"\n```",
]


@pytest.fixture(scope="module")
def model() -> Iterator[LocalModel]:
    local = LocalModel(parallel=4)
    yield local
    local.close()


def ask(model: LocalModel, prompt: str, seed: int, max_tokens: int = 48, temperature: float = 0.9) -> Completion:
    return model.complete([SYSTEM, {"role": "user", "content": prompt}], temperature=temperature,
                          max_tokens=max_tokens, seed=seed, stop=("\n```\n",))


def test_the_local_model_declares_what_it_serves() -> None:
    local = LocalModel(parallel=6)
    assert local.capabilities.max_parallel == 6 and local.capabilities.context == local.n_ctx
    assert local.prompt_style == "examples"
    assert LocalModel("some.gguf").prompt_style == "tests"


def test_one_call_at_a_time_a_seeded_call_is_reproducible() -> None:
    texts = []
    for _ in range(2):
        fresh = LocalModel(parallel=4)
        try:
            texts.append([ask(fresh, ASKS[i % 3], seed).text for i, seed in enumerate([11, 12, 13, 14])])
        finally:
            fresh.close()
    assert texts[0] == texts[1]
    assert len(set(texts[0])) > 1, "different seeds and prompts should not all give one reply"
    assert all(text.startswith("```python\n") for text in texts[0])


def test_calls_decoded_together_each_answer_their_own_prompt(model: LocalModel) -> None:
    names = ["def add(", "def is_even(", "def shout("]
    jobs = [(i % 3, seed) for i, seed in enumerate(range(21, 29))]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda job: ask(model, ASKS[job[0]], job[1], max_tokens=24, temperature=0.0), jobs))
    for (which, _), reply in zip(jobs, replies, strict=True):
        assert names[which] in reply.text and not any(n in reply.text for n in names if n != names[which])
    # Greedy replies to one prompt agree whatever else ran beside them.
    assert len({r.text for (which, _), r in zip(jobs, replies, strict=True) if which == 0}) == 1


def test_a_round_of_one_prompt_evaluates_it_once(model: LocalModel) -> None:
    prompt = "A prompt of its own, so that little of it is cached yet.\n" + ASKS[0]
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda seed: ask(model, prompt, seed, max_tokens=8), [1, 2, 3, 4]))
    tokens = replies[0].usage.prompt_tokens
    assert all(r.usage.prompt_tokens == tokens for r in replies)
    cached = sorted(r.usage.cached_tokens for r in replies)
    # One call evaluated the prompt; the others found all of it but the last token in the cache.
    assert cached[0] < tokens // 2 and cached[1:] == [tokens - 1] * 3


def test_replies_stop_at_the_budget_and_the_stop_string(model: LocalModel) -> None:
    short = ask(model, ASKS[1], 5, max_tokens=3)
    assert short.usage.completion_tokens == 3
    stopped = model.complete([SYSTEM, {"role": "user", "content": ASKS[2]}], temperature=0.0, max_tokens=64,
                             seed=0, stop=("return",))
    assert "return" not in stopped.text and stopped.usage.completion_tokens < 64


def test_more_calls_than_sequences_all_complete(model: LocalModel) -> None:
    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda seed: ask(model, ASKS[seed % 3], seed, max_tokens=12), range(10)))
    assert len(replies) == 10 and all(0 < r.usage.completion_tokens <= 12 for r in replies)


def test_a_prompt_longer_than_the_context_fails_with_one_line() -> None:
    local = LocalModel(n_ctx=256, parallel=2)
    try:
        with pytest.raises(ModelCallFailed, match=r"the prompt has \d+ tokens, more than the local model's context of 256"):
            ask(local, "word " * 400, 0)
        assert ask(local, ASKS[0], 0, max_tokens=4).usage.completion_tokens <= 4
        decoder = local._load()
    finally:
        local.close()
    with pytest.raises(ModelCallFailed, match="closed"):
        decoder.submit([1, 2, 3], temperature=0.5, max_tokens=2, seed=0).result()


def test_a_run_at_parallel_4_records_every_call_once(tmp_path: Path, model: LocalModel) -> None:
    (tmp_path / "test_slugger.py").write_text(SLUG_TESTS)
    result = solve(tmp_path / "test_slugger.py", tmp_path / "slugger.py", model=model, strategy="sample",
                   budget=Budget(max_calls=8), db=tmp_path / "runs.db", seed=7, parallel=4)
    attempts = Store(tmp_path / "runs.db").attempts(result.run_id)
    assert result.model_calls == len(attempts) == 8
    assert sorted(a["n"] for a in attempts) == list(range(1, 9))
    assert all(a["response"].startswith("```python") and a["completion_tokens"] > 0 for a in attempts)


def test_cancel_ends_only_the_calling_threads_calls(model: LocalModel) -> None:
    decoder = model._load()
    counting = decoder.tokenize(", ".join(str(i) for i in range(1, 13)) + ",")  # greedy: counts on and on

    def submit(seed: int) -> Future[Generated]:
        return decoder.submit(counting, temperature=0.0, max_tokens=600, seed=seed)

    with ThreadPoolExecutor(1) as other:
        theirs = other.submit(submit, 1).result()  # submitted by another thread
        worker = other.submit(threading.get_ident).result()
    mine = [submit(2), submit(3)]
    time.sleep(1.5)  # long enough to be decoding, far from 600 tokens
    decoder.cancel(frozenset({threading.get_ident()}))
    cut = [f.result(timeout=60) for f in mine]
    assert all(0 < c.completion_tokens < 600 for c in cut), cut
    assert not theirs.done(), "another thread's call goes on"
    decoder.cancel(frozenset({worker}))
    assert theirs.result(timeout=60).completion_tokens < 600


def test_a_time_budget_stops_the_calls_in_flight(tmp_path: Path, model: LocalModel) -> None:
    (tmp_path / "test_slugger.py").write_text(SLUG_TESTS)
    started = time.monotonic()
    result = solve(tmp_path / "test_slugger.py", tmp_path / "slugger.py", model=model, strategy="sample",
                   budget=Budget(max_calls=50, max_seconds=2.0), db=tmp_path / "runs.db", parallel=4)
    elapsed = time.monotonic() - started
    attempts = Store(tmp_path / "runs.db").attempts(result.run_id)
    assert "within 2s" in result.message and len(attempts) == result.model_calls >= 4
    # Four replies of up to 640 tokens would take far longer than the budget; they were cut short.
    assert result.seconds < 6 and elapsed < 20
