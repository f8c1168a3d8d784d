"""The Model seam: one method, `complete`, and adapters chosen by a model spec string.

Specs: `local` (the embedded SmolLM2-135M-Instruct), `local:PATH.gguf`, `openai:MODEL`,
`anthropic:MODEL`, `scripted:PATH.json`. Adapters are imported lazily, so importing greenloop
never loads llama.cpp or opens a connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, Protocol

from greenloop.errors import BadInput

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}
PromptStyle = Literal["examples", "tests"]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cost: float = 0.0


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage


class Model(Protocol):
    """A text generator. `prompt_style` says what a prompt should show it: a stub with examples
    (small models copy tests back) or the tests themselves."""

    name: str
    prompt_style: PromptStyle

    def complete(self, messages: list[Message], *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Completion: ...

    def check(self) -> None:
        """Raise ModelError when the model cannot be used (file missing, endpoint unreachable)."""


class ModelError(BadInput):
    """The model cannot be used as configured; the message says what to do."""


class ScriptExhausted(ModelError):
    """A scripted model has no responses left."""


def load_model(spec: str, *, base_url: str | None = None) -> Model:
    """Build the adapter for a model spec; raises ModelError for an unknown or malformed spec."""
    kind, _, arg = spec.partition(":")
    if kind == "local":
        from greenloop.models.local import LocalModel

        return LocalModel(arg or None)
    if kind == "scripted":
        from greenloop.models.scripted import ScriptedModel

        if not arg:
            raise ModelError("scripted: needs a path to a JSON array of responses, e.g. scripted:replies.json")
        return ScriptedModel.from_file(arg)
    if kind == "openai":
        from greenloop.models.remote import OpenAIModel

        if not arg:
            raise ModelError("openai: needs a model name, e.g. openai:gpt-4o-mini or openai:qwen2.5-coder")
        url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        return OpenAIModel(arg, url, os.environ.get("OPENAI_API_KEY", ""))
    if kind == "anthropic":
        from greenloop.models.remote import AnthropicModel

        if not arg:
            raise ModelError("anthropic: needs a model name, e.g. anthropic:claude-sonnet-4-5")
        url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com/v1"
        return AnthropicModel(arg, url, os.environ.get("ANTHROPIC_API_KEY", ""))
    raise ModelError(
        f"unknown model spec {spec!r}; use local, local:PATH.gguf, openai:MODEL, anthropic:MODEL or scripted:PATH"
    )


__all__ = ["Completion", "Message", "Model", "ModelError", "ScriptExhausted", "Usage", "load_model"]
