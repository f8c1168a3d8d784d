"""Models behind HTTP: any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server,
LM Studio) and Anthropic's Messages API. Plain httpx through one pooled client per model
(models/http.py: retries, backoff, Retry-After); the cost of each call from models/prices.py."""

from __future__ import annotations

import os
from typing import Any

from greenloop.models import Capabilities, Completion, Message, ModelError, PromptStyle, Usage
from greenloop.models.http import Endpoint, RetryPolicy
from greenloop.models.prices import Price, price_for

# A server or an API serves several requests at once; four keeps a local server's queue short
# and stays under hosted rate limits for a single run. `--parallel` overrides it.
REMOTE_PARALLEL = 4
REMOTE_CONTEXT = 16_384


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


class _HTTPModel:
    provider = ""

    def __init__(self, model: str, base_url: str, api_key: str, *, timeout: float = 120.0,
                 policy: RetryPolicy | None = None, capabilities: Capabilities | None = None) -> None:
        self.model, self.api_key = model, api_key
        self.name = f"{self.provider}:{model}"
        self.capabilities = capabilities or Capabilities(REMOTE_CONTEXT, REMOTE_PARALLEL, "tests")
        self.price: Price | None = price_for(self.name)
        self.endpoint = Endpoint(base_url, self._headers(), parallel=self.capabilities.max_parallel,
                                 timeout=timeout, policy=policy)
        self.base_url = self.endpoint.base_url

    @property
    def prompt_style(self) -> PromptStyle:
        return self.capabilities.prompt_style

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def check(self) -> None:
        self.endpoint.reachable()

    def close(self) -> None:
        self.endpoint.close()

    def _cost(self, prompt: int, completion: int, cached: int, written: int = 0) -> float:
        return self.price.cost(prompt, completion, cached, written) if self.price else 0.0


class OpenAIModel(_HTTPModel):
    provider = "openai"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def complete(self, messages: list[Message], *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Completion:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                "max_tokens": max_tokens, "seed": seed}
        if stop:
            body["stop"] = list(stop)[:4]
        reply = self.endpoint.post("/chat/completions", body)
        usage = reply.data.get("usage") or {}
        prompt, completion = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
        cached = _int((usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
        try:
            text = reply.data["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            text = ""  # an answer without a message counts as a reply without code
        return Completion(text, Usage(prompt, completion, reply.seconds, self._cost(prompt, completion, cached),
                                      cached, reply.retries))


class AnthropicModel(_HTTPModel):
    provider = "anthropic"

    def __init__(self, model: str, base_url: str, api_key: str, **kwargs: Any) -> None:
        if not api_key:
            raise ModelError("anthropic: set ANTHROPIC_API_KEY")
        super().__init__(model, base_url, api_key, **kwargs)

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key, "anthropic-version": "2023-06-01"}

    def complete(self, messages: list[Message], *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Completion:
        system = "\n".join(m["content"] for m in messages if m["role"] == "system")
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens, "temperature": min(temperature, 1.0),
                                "messages": [m for m in messages if m["role"] != "system"]}
        if system:
            body["system"] = system
        if stop:
            body["stop_sequences"] = list(stop)
        reply = self.endpoint.post("/messages", body)
        usage = reply.data.get("usage") or {}
        # Anthropic's input_tokens leaves out the tokens read from or written to the prompt cache.
        cached, written = _int(usage.get("cache_read_input_tokens")), _int(usage.get("cache_creation_input_tokens"))
        prompt = _int(usage.get("input_tokens")) + cached + written
        completion = _int(usage.get("output_tokens"))
        blocks = reply.data.get("content")
        text = "".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text") \
            if isinstance(blocks, list) else ""
        return Completion(text, Usage(prompt, completion, reply.seconds,
                                      self._cost(prompt, completion, cached, written), cached, reply.retries))


def openai_from_spec(argument: str, base_url: str | None = None) -> OpenAIModel:
    """`openai:MODEL`: the registry's factory."""
    if not argument:
        raise ModelError("openai: needs a model name, e.g. openai:gpt-4o-mini or openai:qwen2.5-coder")
    url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    return OpenAIModel(argument, url, os.environ.get("OPENAI_API_KEY", ""))


def anthropic_from_spec(argument: str, base_url: str | None = None) -> AnthropicModel:
    """`anthropic:MODEL`: the registry's factory."""
    if not argument:
        raise ModelError("anthropic: needs a model name, e.g. anthropic:claude-sonnet-4-5")
    url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com/v1"
    return AnthropicModel(argument, url, os.environ.get("ANTHROPIC_API_KEY", ""))
