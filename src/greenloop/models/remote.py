"""Models behind HTTP: any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server,
LM Studio) and Anthropic's Messages API. Plain httpx; retries on rate limits and server errors."""

from __future__ import annotations

import time
from typing import Any

import httpx

from greenloop.models import Completion, Message, ModelError, PromptStyle, Usage

_RETRIES = 4


class _HTTPModel:
    prompt_style: PromptStyle = "tests"

    def __init__(self, model: str, base_url: str, api_key: str, timeout: float = 120.0) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.client = httpx.Client(timeout=timeout, headers=self._headers())

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def check(self) -> None:
        try:
            self.client.get(f"{self.base_url}/models", timeout=10.0)
        except httpx.HTTPError as exc:
            raise ModelError(
                f"cannot reach the model endpoint {self.base_url} ({type(exc).__name__}); "
                "start the server or set --base-url"
            ) from None

    def _post(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        delay = 1.0
        for attempt in range(_RETRIES + 1):
            started = time.perf_counter()
            try:
                response = self.client.post(f"{self.base_url}{path}", json=body)
            except httpx.TransportError as exc:
                if attempt == _RETRIES:
                    raise ModelError(f"the model endpoint {self.base_url} failed: {exc}") from None
            else:
                if response.status_code < 400:
                    return response.json(), time.perf_counter() - started
                if response.status_code in (401, 403):
                    raise ModelError(f"the model endpoint refused the key ({response.status_code}); check the API key")
                if response.status_code not in (408, 409, 429) and response.status_code < 500 or attempt == _RETRIES:
                    raise ModelError(f"the model endpoint answered {response.status_code}: {response.text[:200]}")
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")


class OpenAIModel(_HTTPModel):
    def __init__(self, model: str, base_url: str, api_key: str) -> None:
        super().__init__(model, base_url, api_key)
        self.name = f"openai:{model}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def complete(self, messages: list[Message], *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Completion:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                "max_tokens": max_tokens, "seed": seed}
        if stop:
            body["stop"] = list(stop)[:4]
        data, seconds = self._post("/chat/completions", body)
        usage = data.get("usage") or {}
        return Completion(
            text=data["choices"][0]["message"].get("content") or "",
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), seconds),
        )


class AnthropicModel(_HTTPModel):
    def __init__(self, model: str, base_url: str, api_key: str) -> None:
        if not api_key:
            raise ModelError("anthropic: set ANTHROPIC_API_KEY")
        super().__init__(model, base_url, api_key)
        self.name = f"anthropic:{model}"

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
        data, seconds = self._post("/messages", body)
        usage = data.get("usage") or {}
        text = "".join(block.get("text", "") for block in data.get("content", []) if block.get("type") == "text")
        return Completion(text, Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)), seconds))
