"""The Model seam: one method, `complete`, what a model can do (`Capabilities`), and the registry
of providers chosen by a model spec string.

Specs are `PROVIDER[:ARGUMENT]`: `local` (the embedded SmolLM2-135M-Instruct), `local:PATH.gguf`,
`openai:MODEL`, `anthropic:MODEL`, `scripted:PATH.json`. Providers live in the `MODELS` registry;
third-party packages add their own through the `greenloop.models` entry point group, naming a
factory `(argument: str, base_url: str | None) -> Model`. Adapters are imported lazily, so
importing greenloop never loads llama.cpp or opens a connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from greenloop.errors import BadInput, ModelFailure
from greenloop.registry import Registry

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}
PromptStyle = Literal["examples", "tests"]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0  # all of them, the cached ones included
    completion_tokens: int = 0
    seconds: float = 0.0
    cost: float = 0.0  # US dollars; 0 for local models and unknown prices
    cached_tokens: int = 0  # prompt tokens the endpoint served from its prompt cache
    retries: int = 0  # requests retried (rate limits, server errors, timeouts) before this reply


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage


@dataclass(frozen=True)
class Capabilities:
    """What a model declares about itself, so that callers need not guess from its name.

    `context`: tokens one call may use, prompt and reply together. `max_parallel`: how many calls
    are worth having in flight at once (the default for `--parallel`; 1 means one at a time).
    `prompt_style`: what a prompt should show it, a stub with examples (small models copy tests
    back) or the tests themselves."""

    context: int = 8192
    max_parallel: int = 1
    prompt_style: PromptStyle = "tests"

    def __post_init__(self) -> None:
        if self.context < 1 or self.max_parallel < 1:
            raise ValueError("a model's context and max_parallel must be at least 1")


class Model(Protocol):
    """A text generator. Calls may come from several threads at once; an adapter that cannot serve
    them concurrently serialises them itself (and declares `max_parallel=1`)."""

    name: str
    capabilities: Capabilities

    @property
    def prompt_style(self) -> PromptStyle: ...

    def complete(self, messages: list[Message], *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Completion: ...

    def check(self) -> None:
        """Raise ModelError when the model cannot be used (file missing, endpoint unreachable)."""


class ModelError(BadInput):
    """The model cannot be used as configured; the message says what to do."""


class ModelCallFailed(ModelFailure):
    """A call failed during a run and retrying did not help (the endpoint down, retries spent)."""

    def __init__(self, message: str, retries: int = 0) -> None:
        super().__init__(message)
        self.retries = retries


class ScriptExhausted(ModelError):
    """A scripted model has no responses left."""


def capabilities_of(model: object) -> Capabilities:
    """A model's declared capabilities; for an object written before models declared them, one
    call at a time and its `prompt_style`."""
    declared = getattr(model, "capabilities", None)
    if isinstance(declared, Capabilities):
        return declared
    return Capabilities(max_parallel=1, prompt_style=getattr(model, "prompt_style", "tests"))


# Built-ins register as a plugin would: `[project.entry-points."greenloop.models"]` in a
# third-party package's pyproject.toml adds `name = "module:factory"` beside these.
MODELS: Registry[Model] = Registry("greenloop.models", "model provider")
MODELS.register("local", "greenloop.models.local:from_spec")
MODELS.register("scripted", "greenloop.models.scripted:from_spec")
MODELS.register("openai", "greenloop.models.remote:openai_from_spec")
MODELS.register("anthropic", "greenloop.models.remote:anthropic_from_spec")


def load_model(spec: str, *, base_url: str | None = None) -> Model:
    """Build the adapter for a model spec; raises ModelError for an unknown or malformed spec."""
    provider, _, argument = spec.partition(":")
    if provider not in MODELS:
        examples = ", ".join(f"{name}:..." if name != "local" else name for name in MODELS.names())
        raise ModelError(f"unknown model spec {spec!r}; use one of {examples} (e.g. local, openai:MODEL)")
    return MODELS.factory(provider)(argument, base_url)


__all__ = ["MODELS", "Capabilities", "Completion", "Message", "Model", "ModelCallFailed", "ModelError",
           "PromptStyle", "ScriptExhausted", "Usage", "capabilities_of", "load_model"]
