"""What a model call costs: list prices of common hosted models, extendable by the user.

Prices are US dollars per million tokens: input, output, and cached input (prompt tokens the
endpoint served from its prompt cache; Anthropic also bills writing the cache). Models running
locally (`local`, `scripted`, a server of your own) cost 0. A model that is not in the table costs
0 too, and `price_for` returns None so that callers can say the cost is unknown.

`GREENLOOP_PRICES` names a TOML or JSON file whose entries replace or extend the table:

    ["openai:gpt-4o"]
    input = 2.5
    output = 10.0
    cached_input = 1.25

Keys are model specs; a dated variant (`openai:gpt-4o-2024-08-06`) takes the price of the
longest key it starts with.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from greenloop.errors import BadInput

# List prices as the providers published them in November 2025 (standard tier, no batch
# discount, prompts under any long-context threshold). Check the providers' pages for today's.
PRICES_TAKEN = "2025-11-24"


@dataclass(frozen=True)
class Price:
    input: float  # USD per million prompt tokens
    output: float  # USD per million completion tokens
    cached_input: float | None = None  # USD per million prompt tokens read from the cache (None: as input)
    cache_write: float | None = None  # USD per million prompt tokens written to the cache (None: as input)

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0,
             cache_write_tokens: int = 0) -> float:
        """`prompt_tokens` counts every prompt token, the cached and cache-written ones included."""
        fresh = max(0, prompt_tokens - cached_tokens - cache_write_tokens)
        cached = self.input if self.cached_input is None else self.cached_input
        write = self.input if self.cache_write is None else self.cache_write
        return (fresh * self.input + cached_tokens * cached + cache_write_tokens * write
                + completion_tokens * self.output) / 1_000_000


BUILTIN_PRICES: dict[str, Price] = {
    "openai:gpt-5": Price(1.25, 10.0, 0.125),
    "openai:gpt-5-mini": Price(0.25, 2.0, 0.025),
    "openai:gpt-5-nano": Price(0.05, 0.40, 0.005),
    "openai:gpt-4.1": Price(2.0, 8.0, 0.50),
    "openai:gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "openai:gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "openai:gpt-4o": Price(2.50, 10.0, 1.25),
    "openai:gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "openai:o3": Price(2.0, 8.0, 0.50),
    "openai:o4-mini": Price(1.10, 4.40, 0.275),
    "anthropic:claude-opus-4-5": Price(5.0, 25.0, 0.50, 6.25),
    "anthropic:claude-opus-4-1": Price(15.0, 75.0, 1.50, 18.75),
    "anthropic:claude-sonnet-4-5": Price(3.0, 15.0, 0.30, 3.75),
    "anthropic:claude-sonnet-4": Price(3.0, 15.0, 0.30, 3.75),
    "anthropic:claude-haiku-4-5": Price(1.0, 5.0, 0.10, 1.25),
    "anthropic:claude-3-5-haiku": Price(0.80, 4.0, 0.08, 1.0),
}


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadInput(f"{where} must be a non-negative number of dollars per million tokens, not {value!r}")
    return float(value)


def _read(path: Path) -> dict[str, Price]:
    parse: Callable[[str], Any]
    if path.suffix == ".json":
        parse = json.loads
    else:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise BadInput(f"the price file {path} is TOML, which needs Python 3.11; write it as JSON") from None
        parse = tomllib.loads
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise BadInput(f"cannot read the price file {path} (GREENLOOP_PRICES): {exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"the price file {path} must map model specs to prices")
    prices: dict[str, Price] = {}
    for spec, entry in data.items():
        where = f"{path}: [{spec!r}]"
        if not isinstance(entry, dict) or not {"input", "output"} <= set(entry):
            raise BadInput(f"{where} needs `input` and `output` (USD per million tokens)")
        unknown = set(entry) - {"input", "output", "cached_input", "cache_write"}
        if unknown:
            raise BadInput(f"{where} has unknown keys {sorted(unknown)}; use input, output, cached_input, cache_write")
        optional = {k: _number(entry[k], f"{where}.{k}") for k in ("cached_input", "cache_write") if k in entry}
        prices[spec] = Price(_number(entry["input"], f"{where}.input"), _number(entry["output"], f"{where}.output"),
                             **optional)
    return prices


@lru_cache(maxsize=8)
def _table(override: str) -> dict[str, Price]:
    table = dict(BUILTIN_PRICES)
    if override:
        table.update(_read(Path(override).expanduser()))
    return table


def price_table() -> dict[str, Price]:
    """The built-in prices with the user's file (GREENLOOP_PRICES) laid over them."""
    return _table(os.environ.get("GREENLOOP_PRICES", ""))


def price_for(spec: str) -> Price | None:
    """The price of a model spec (`openai:gpt-4o-mini`), or None when it is not known."""
    table = price_table()
    if spec in table:
        return table[spec]
    matches = [key for key in table if spec.startswith(key + "-")]
    return table[max(matches, key=len)] if matches else None
