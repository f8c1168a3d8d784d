"""A model that replays a script: each call returns the next string. For tests and for reproducing runs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from greenloop.models import Capabilities, Completion, Message, ModelError, PromptStyle, ScriptExhausted, Usage


class ScriptedModel:
    name = "scripted"

    def __init__(self, responses: list[str], prompt_style: PromptStyle = "tests", max_parallel: int = 1) -> None:
        self.responses = list(responses)
        # One at a time unless a test asks for more: the script's order is then the calls' order.
        # A replay reads nothing, so no prompt is too long for it: the context of a large hosted model.
        self.capabilities = Capabilities(context=128_000, max_parallel=max_parallel, prompt_style=prompt_style)
        self.calls: list[list[Message]] = []
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str) -> ScriptedModel:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"scripted model file not found: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"scripted model file {path} is not a JSON array of strings: {exc}") from None
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise ModelError(f"scripted model file {path} must hold a JSON array of strings")
        model = cls(data)
        model.name = f"scripted:{path}"
        return model

    @property
    def prompt_style(self) -> PromptStyle:
        return self.capabilities.prompt_style

    def check(self) -> None:
        if not self.responses:
            raise ModelError("the scripted model has no responses")

    def complete(self, messages: list[Message], *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Completion:
        with self._lock:
            index = len(self.calls)
            if index >= len(self.responses):
                raise ScriptExhausted(f"the scripted model ran out of responses after {index} calls")
            self.calls.append(messages)
        text = self.responses[index]
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return Completion(text, Usage(prompt_tokens=prompt_tokens, completion_tokens=len(text.split())))


def from_spec(argument: str, base_url: str | None = None) -> ScriptedModel:
    """`scripted:PATH`: the registry's factory."""
    if not argument:
        raise ModelError("scripted: needs a path to a JSON array of responses, e.g. scripted:replies.json")
    return ScriptedModel.from_file(argument)
