"""Batched decoding of concurrent calls on one llama.cpp context, through llama-cpp-python's
low-level API (`llama_batch_init`, `llama_decode`, the `llama_memory_seq_*` KV-cache operations).

Callers on any thread `submit` a tokenized prompt and wait on a future; one background thread
owns the context and decodes every call in flight together, one token per sequence per
`llama_decode`, so that generating for eight calls costs little more than for one. The context has
`n_seq` sequences sharing a unified KV cache. A new call's prompt reuses the longest prefix
already in the cache (the previous call's prompt, or another sequence's): it is copied into the
call's sequence with `llama_memory_seq_cp`, which shares the cells, and only the rest of the
prompt is evaluated. Each call samples with its own seeded sampler chain (the same chain as
llama-cpp-python's `create_completion`: top-k 40, typical 1.0, top-p 0.95, min-p 0.05,
temperature, then a draw with the call's seed), so its random draws do not depend on other calls.
Its logits can, in the last bits: where a sequence's cells sit in the shared cache changes the
order in which attention sums, and a near-tie now and then samples another token (measured in
docs/benchmarks.md: most replies are identical to the unbatched ones; pass rates are unchanged).
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenloop.models import ModelCallFailed, ModelError

N_BATCH = 512  # tokens per llama_decode when evaluating prompts


@dataclass(frozen=True)
class Generated:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int  # prompt tokens found in the KV cache, not evaluated again
    seconds: float


@dataclass
class _Call:
    tokens: list[int]
    temperature: float
    max_tokens: int
    seed: int
    stop: tuple[bytes, ...]
    future: Future[Generated]
    submitted: float = field(default_factory=time.perf_counter)
    owner: int = field(default_factory=threading.get_ident)  # the thread that submitted it
    seq: int = -1
    sampler: Any = None
    reused: int = 0
    next_token: int = -1
    out: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class _Cancel:
    owners: frozenset[int]


def _common(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class BatchedDecoder:
    """One llama.cpp model and context serving up to `n_seq` calls at once (see the module doc)."""

    def __init__(self, path: Path, *, n_seq: int = 8, n_ctx: int = 8192, seq_ctx: int = 4096,
                 threads: int = 1) -> None:
        import llama_cpp as lib

        # llama.cpp logs every load to stderr unless its Python logger is raised above INFO.
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
        self.lib = lib
        self.n_seq, self.threads = n_seq, threads
        lib.llama_backend_init()
        self.model = lib.llama_model_load_from_file(str(path).encode(), lib.llama_model_default_params())
        if not self.model:
            raise ModelError(f"could not load {path}: llama.cpp cannot read it as a GGUF model")
        self.vocab = lib.llama_model_get_vocab(self.model)
        trained = lib.llama_model_n_ctx_train(self.model)
        self.seq_ctx = min(seq_ctx, n_ctx, trained)
        n_ctx = min(n_ctx, max(self.seq_ctx, trained))  # positions are per sequence; the cache is shared
        params = lib.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch, params.n_seq_max = n_ctx, N_BATCH, N_BATCH, n_seq
        params.n_threads = params.n_threads_batch = threads
        # One cache for every sequence: a copied prefix shares its cells, and a step decodes all
        # sequences in one pass. A stream per sequence (kv_unified=False) gave bit-identical replies
        # whatever ran beside them, but no speed-up at all from batching on this llama.cpp build; flash
        # attention made each step slower (docs/decisions/0008-concurrency.md).
        params.kv_unified = True
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.no_perf = True
        self.ctx = lib.llama_init_from_model(self.model, params)
        if not self.ctx:
            lib.llama_model_free(self.model)
            raise ModelError(f"could not create a llama.cpp context for {path} ({n_ctx} tokens, {n_seq} sequences)")
        self.memory = lib.llama_get_memory(self.ctx)
        self.batch = lib.llama_batch_init(N_BATCH, 0, 1)
        self.cache: list[list[int]] = [[] for _ in range(n_seq)]  # tokens in the KV cache, per sequence
        self.busy: list[_Call | None] = [None] * n_seq
        self.queue: queue.Queue[_Call | _Cancel | None] = queue.Queue()
        self.waiting: list[_Call] = []  # admitted later, when a sequence (or cache space) frees up
        self.failure: BaseException | None = None
        self.steps = 0  # llama_decode calls while generating, for measurements
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="greenloop-llama-decode", daemon=True)
        self._thread.start()

    # The caller's side.

    def tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        size = len(data) + 16
        buffer = (self.lib.llama_token * size)()
        n = self.lib.llama_tokenize(self.vocab, data, len(data), buffer, size, True, True)
        if n < 0:  # the buffer was too small; -n is what it needs
            size = -n
            buffer = (self.lib.llama_token * size)()
            n = self.lib.llama_tokenize(self.vocab, data, len(data), buffer, size, True, True)
        return list(buffer[:n])

    def piece(self, token: int, special: bool = False) -> bytes:
        buffer = ctypes.create_string_buffer(64)
        n = self.lib.llama_token_to_piece(self.vocab, token, buffer, 64, 0, special)
        if n < 0:
            buffer = ctypes.create_string_buffer(-n)
            n = self.lib.llama_token_to_piece(self.vocab, token, buffer, -n, 0, special)
        return buffer.raw[:n]

    def chat_template(self) -> str | None:
        template = self.lib.llama_model_chat_template(self.model, None)
        return template.decode("utf-8") if template else None

    def token_text(self, which: str) -> str:
        """The text of the `bos` or `eos` token as llama-cpp-python's own chat formatting renders it."""
        token = getattr(self.lib, f"llama_vocab_{which}")(self.vocab)
        return self.piece(token).decode("utf-8", "replace") if token >= 0 else ""

    def submit(self, tokens: list[int], *, temperature: float, max_tokens: int, seed: int,
               stop: tuple[str, ...] = ()) -> Future[Generated]:
        future: Future[Generated] = Future()
        if self.failure is not None or self._closed:
            future.set_exception(ModelCallFailed(f"the local model stopped: {self.failure or 'closed'}"))
            return future
        if len(tokens) >= self.seq_ctx:
            future.set_exception(ModelCallFailed(
                f"the prompt has {len(tokens)} tokens, more than the local model's context of {self.seq_ctx}"))
            return future
        max_tokens = max(1, min(max_tokens, self.seq_ctx - len(tokens)))
        stops = tuple(s.encode("utf-8") for s in stop if s)
        self.queue.put(_Call(tokens, temperature, max_tokens, seed & 0xFFFFFFFF, stops, future))
        return future

    def cancel(self, owners: frozenset[int]) -> None:
        """End the calls submitted by these threads now: running ones return what they have so far,
        waiting ones an empty reply. Calls of other threads (another run sharing the model) go on."""
        self.queue.put(_Cancel(owners))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.queue.put(None)
        self._thread.join()
        lib = self.lib
        lib.llama_batch_free(self.batch)
        lib.llama_free(self.ctx)
        lib.llama_model_free(self.model)

    # The decode thread's side.

    def _serve(self) -> None:
        try:
            while True:
                active = any(self.busy)
                try:
                    call = self.queue.get(block=not active and not self.waiting, timeout=None)
                except queue.Empty:
                    call = None
                else:
                    if call is None:
                        break
                    self._take(call)
                while True:  # gather whatever else arrived meanwhile: it joins this step
                    try:
                        more = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._fail_all(ModelCallFailed("the local model was closed"))
                        return
                    self._take(more)
                self._admit()
                if any(self.busy):
                    self._step()
        except BaseException as exc:  # noqa: BLE001 - a failure must reach every waiting caller
            self.failure = exc
            self._fail_all(ModelCallFailed(f"the local model failed: {type(exc).__name__}: {exc}"))
        finally:
            if self.failure is None:
                self._fail_all(ModelCallFailed("the local model was closed"))

    def _take(self, item: _Call | _Cancel) -> None:
        if isinstance(item, _Call):
            self.waiting.append(item)
            return
        for call in [c for c in self.busy if c is not None and c.owner in item.owners]:
            self._finish(call)
        for call in [c for c in self.waiting if c.owner in item.owners]:
            self.waiting.remove(call)
            call.future.set_result(Generated("", len(call.tokens), 0, 0, time.perf_counter() - call.submitted))

    def _fail_all(self, error: BaseException) -> None:
        calls = [c for c in self.busy if c is not None] + self.waiting
        while True:
            try:
                c = self.queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(c, _Call):
                calls.append(c)
        for call in calls:
            self._release(call)
            if not call.future.done():
                call.future.set_exception(error)
        self.waiting = []

    def _sampler(self, call: _Call) -> Any:
        lib = self.lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if call.temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        for sampler in (lib.llama_sampler_init_top_k(40), lib.llama_sampler_init_typical(1.0, 1),
                        lib.llama_sampler_init_top_p(0.95, 1), lib.llama_sampler_init_min_p(0.05, 1),
                        lib.llama_sampler_init_temp(call.temperature), lib.llama_sampler_init_dist(call.seed)):
            lib.llama_sampler_chain_add(chain, sampler)
        return chain

    def _admit(self) -> None:
        """Give waiting calls free sequences, reusing cached prefixes, and evaluate their prompts."""
        lib = self.lib
        planned: list[tuple[_Call, int]] = []  # (call, first position to evaluate)
        while self.waiting and None in self.busy:
            call = self.waiting.pop(0)
            # Keep at least the prompt's last token to evaluate: its logits give the first sample.
            want = len(call.tokens) - 1
            free = [s for s in range(self.n_seq) if self.busy[s] is None]
            dst = max(free, key=lambda s: _common(self.cache[s], call.tokens))
            own = min(_common(self.cache[dst], call.tokens), want)
            src, shared = dst, own
            for s in range(self.n_seq):
                n = min(_common(self.cache[s], call.tokens), want)
                if n > shared:
                    src, shared = s, n
            if any(min(_common(c.tokens, call.tokens), want) > shared for c, _ in planned):
                # A round of samples shares one prompt: evaluate it once, then copy it.
                self.waiting.insert(0, call)
                ok, planned = self._evaluate_prompts(planned), []
                if not ok:
                    return
                continue
            if src == dst:
                lib.llama_memory_seq_rm(self.memory, dst, shared, -1)
            else:  # the copy shares the cells: the prefix is neither evaluated nor stored twice
                lib.llama_memory_seq_rm(self.memory, dst, -1, -1)
                lib.llama_memory_seq_cp(self.memory, src, dst, 0, shared)
            self.cache[dst] = call.tokens[:shared]
            call.seq, call.reused, call.sampler = dst, shared, self._sampler(call)
            self.busy[dst] = call
            planned.append((call, shared))
        if planned:
            self._evaluate_prompts(planned)

    def _evaluate_prompts(self, planned: list[tuple[_Call, int]]) -> bool:
        """Evaluate the planned calls' prompts and draw their first tokens; False when the cache is full."""
        pending = [(call, call.tokens[start:]) for call, start in planned]
        while pending:
            n, rows = 0, []
            while pending and n < N_BATCH:
                call, rest = pending[0]
                take = rest[:N_BATCH - n]
                base = len(self.cache[call.seq])
                for i, token in enumerate(take):
                    last = i == len(take) - 1 and len(take) == len(rest)
                    self._put(n, token, base + i, call.seq, last)
                    if last:
                        rows.append((call, n))
                    n += 1
                self.cache[call.seq] = self.cache[call.seq] + take
                if len(take) == len(rest):
                    pending.pop(0)
                else:
                    pending[0] = (call, rest[len(take):])
            if not self._decode(n):
                # No room in the cache even after evicting idle sequences: the calls wait for
                # running ones to finish, unless nothing else runs.
                unfinished = {c.seq for c, _ in pending} | {c.seq for c, _ in rows}
                retry = [c for c in self.busy if c is not None and c.seq in unfinished]
                for call in retry:
                    self.lib.llama_memory_seq_rm(self.memory, call.seq, -1, -1)
                    self.cache[call.seq] = []
                    self._release(call)
                if any(self.busy):
                    self.waiting[:0] = retry
                else:
                    for call in retry:
                        call.future.set_exception(ModelCallFailed(
                            f"the prompt of {len(call.tokens)} tokens does not fit the local model's cache"))
                return False
            for call, row in rows:
                self._sample(call, row)
        return True

    def _put(self, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        b = self.batch
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, logits
        b.seq_id[i][0] = seq

    def _decode(self, n: int) -> bool:
        """Decode the first `n` batch rows; on a full cache evict idle sequences' prefixes and retry."""
        self.batch.n_tokens = n
        result = self.lib.llama_decode(self.ctx, self.batch)
        if result == 1 and any(self.cache[s] for s in range(self.n_seq) if self.busy[s] is None):
            for s in range(self.n_seq):
                if self.busy[s] is None and self.cache[s]:
                    self.lib.llama_memory_seq_rm(self.memory, s, -1, -1)
                    self.cache[s] = []
            result = self.lib.llama_decode(self.ctx, self.batch)
        if result not in (0, 1):
            raise RuntimeError(f"llama_decode returned {result}")
        return result == 0

    def _step(self) -> None:
        calls = [c for c in self.busy if c is not None]
        for i, call in enumerate(calls):
            self._put(i, call.next_token, len(self.cache[call.seq]), call.seq, True)
        self.steps += 1
        if not self._decode(len(calls)):
            # The cache is full with running calls: end the longest one with what it has.
            longest = max(calls, key=lambda c: len(self.cache[c.seq]))
            self._finish(longest)
            return
        for i, call in enumerate(calls):
            self.cache[call.seq].append(call.next_token)
            self._sample(call, i)

    def _sample(self, call: _Call, row: int) -> None:
        lib = self.lib
        token = lib.llama_sampler_sample(call.sampler, self.ctx, row)
        if lib.llama_vocab_is_eog(self.vocab, token):
            self._finish(call)
            return
        call.out.append(token)
        call.text += self.piece(token)
        for stop in call.stop:
            at = call.text.find(stop)
            if at >= 0:
                del call.text[at:]
                self._finish(call)
                return
        if len(call.out) >= call.max_tokens or len(self.cache[call.seq]) + 1 >= self.seq_ctx:
            self._finish(call)
            return
        call.next_token = token

    def _finish(self, call: _Call) -> None:
        # Keep the prompt for the next call to reuse; the reply's cells only lengthen every other
        # sequence's attention (it runs over the whole shared cache, masked), and no prompt repeats them.
        kept = min(len(call.tokens), len(self.cache[call.seq]))
        self.lib.llama_memory_seq_rm(self.memory, call.seq, kept, -1)
        self.cache[call.seq] = self.cache[call.seq][:kept]
        self._release(call)
        call.future.set_result(Generated(
            call.text.decode("utf-8", "replace"), len(call.tokens), len(call.out), call.reused,
            time.perf_counter() - call.submitted))

    def _release(self, call: _Call) -> None:
        if call.sampler is not None:
            self.lib.llama_sampler_free(call.sampler)
            call.sampler = None
        if 0 <= call.seq < self.n_seq and self.busy[call.seq] is call:
            self.busy[call.seq] = None
        call.seq = -1
