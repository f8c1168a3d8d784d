"""Config files: settings a user would otherwise retype on every command.

Two files, same keys:
- the project's `pyproject.toml`, table `[tool.greenloop]` (the nearest one from the current directory up
  that has the table);
- the user's `~/.config/greenloop/config.toml` (`$XDG_CONFIG_HOME/greenloop/config.toml`), keys at the top.

Precedence, per key: a command-line flag, then the environment (`GREENLOOP_MODEL`, ...), then the project,
then the user file, then the command's own default. A key that is not known, or a value of the wrong type, is
bad input naming the file and the key. Prices extend models/prices.py's table; strategy parameters
(`[tool.greenloop.strategies.tree]`) reach the strategy chosen, under any `--set`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenloop.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Key -> (type, environment variable or "", what it is). Each key is also the destination of the flag it
# stands for (`max_calls` is `--max-calls`), so it fills only commands that have that flag.
KEYS: dict[str, tuple[type, str, str]] = {
    "model": (str, "GREENLOOP_MODEL", "model spec, e.g. openai:qwen2.5-coder:7b"),
    "base_url": (str, "OPENAI_BASE_URL", "OpenAI-compatible endpoint"),
    "parallel": (int, "GREENLOOP_PARALLEL", "model calls in flight at once"),
    "workers": (int, "GREENLOOP_WORKERS", "sandbox workers"),
    "strategy": (str, "GREENLOOP_STRATEGY", "search strategy"),
    "max_calls": (int, "GREENLOOP_MAX_CALLS", "model calls per run (solve, fix) or per problem (bench)"),
    "max_seconds": (float, "GREENLOOP_MAX_SECONDS", "wall-clock budget, seconds"),
    "max_cost": (float, "GREENLOOP_MAX_COST", "spending budget, US dollars"),
}
TABLES = {"strategies": "parameters per strategy", "prices": "USD per million tokens per model spec"}
PRICE_KEYS = ("input", "output", "cached_input", "cache_write")
PROJECT_TABLE = "tool.greenloop"


@dataclass(frozen=True)
class Layer:
    """The settings one file holds, already checked."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    """The project layer over the user layer (either may be absent)."""

    layers: tuple[Layer, ...] = ()  # highest precedence first

    def get(self, key: str) -> tuple[Any, str] | None:
        """The value a file sets for `key`, with the file it came from."""
        for layer in self.layers:
            if key in layer.values:
                return layer.values[key], str(layer.path)
        return None

    def strategy_params(self, strategy: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for layer in reversed(self.layers):
            params.update(layer.strategies.get(strategy, {}))
        return params

    def prices(self) -> dict[str, dict[str, float]]:
        table: dict[str, dict[str, float]] = {}
        for layer in reversed(self.layers):
            table.update(layer.prices)
        return table


def user_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "greenloop" / "config.toml"


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the config file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"the config file {path} is not valid TOML: {exc}") from None


def _typed(value: Any, kind: type, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadInput(f"{where} must be {'a number' if kind is float else 'an integer' if kind is int else 'text'}, "
                       f"not {value!r}")
    if isinstance(value, int | float) and value <= 0:
        raise BadInput(f"{where} must be positive, not {value!r}")
    return value


def check(data: Mapping[str, Any], path: Path, prefix: str = "") -> Layer:
    """`data` (one file's table) as a Layer; the first unknown key or bad value is a BadInput naming both."""
    def where(key: str) -> str:
        return f"{path}: key '{prefix}{key}'"

    layer = Layer(path)
    for key, value in data.items():
        if key in KEYS:
            layer.values[key] = _typed(value, KEYS[key][0], where(key))
        elif key == "strategies":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise BadInput(f"{where(key)} must hold one table per strategy, e.g. [{prefix}strategies.tree]")
            layer.strategies.update({name: dict(params) for name, params in value.items()})
        elif key == "prices":
            if not isinstance(value, dict):
                raise BadInput(f"{where(key)} must hold one table per model spec")
            for spec, price in value.items():
                at = f"prices.\"{spec}\""
                if not isinstance(price, dict) or not {"input", "output"} <= set(price):
                    raise BadInput(f"{where(at)} needs input and output (USD per million tokens)")
                for name, number in price.items():
                    if name not in PRICE_KEYS:
                        raise BadInput(f"{where(at + '.' + name)} is not known; use {', '.join(PRICE_KEYS)}")
                    if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
                        raise BadInput(f"{where(at + '.' + name)} must be a non-negative number, not {number!r}")
                layer.prices[spec] = {k: float(v) for k, v in price.items()}
        else:
            known = ", ".join([*KEYS, *TABLES])
            raise BadInput(f"{where(key)} is not a greenloop setting; known keys: {known}")
    return layer


def project_file(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest pyproject.toml from `start` up that has a [tool.greenloop] table, with that table."""
    for directory in [start, *start.parents]:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            table = _read(candidate).get("tool", {}).get("greenloop")
            if table is not None:
                if not isinstance(table, dict):
                    raise BadInput(f"{candidate}: key '{PROJECT_TABLE}' must be a table")
                return candidate, table
    return None


def load(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """The config in force for a command run in `cwd` (default: the current directory)."""
    env = os.environ if env is None else env
    layers = []
    found = project_file((cwd or Path.cwd()).resolve())
    if found is not None:
        layers.append(check(found[1], found[0], PROJECT_TABLE + "."))
    user = user_path(env)
    if user.is_file() or (user.exists() and not user.is_dir()):
        layers.append(check(_read(user), user))
    return Config(tuple(layers))


def from_env(key: str, env: Mapping[str, str]) -> Any:
    kind, name, _ = KEYS[key]
    raw = env.get(name, "") if name else ""
    if not raw:
        return None
    try:
        return _typed(kind(raw) if kind is not str else raw, kind, f"environment variable {name}")
    except ValueError:
        raise BadInput(f"environment variable {name} must be {'a number' if kind is float else 'an integer'}, "
                       f"not {raw!r}") from None


def explicit(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The destinations the command line set itself: parsed again with every default replaced by a marker."""
    marker = object()
    saved: list[tuple[argparse.Action, Any]] = []
    # argparse has no public way to ask "was this flag given"; its actions (a stable attribute since 2.7) can
    # have their defaults swapped for the one re-parse.
    stack = [parser]
    while stack:
        current = stack.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
            elif action.dest != "help" and not isinstance(action, argparse._AppendAction | argparse._CountAction):
                saved.append((action, action.default))
                action.default = marker
    try:
        namespace = parser.parse_args(argv)
    finally:
        for action, default in saved:
            action.default = default
    return {dest for dest, value in vars(namespace).items() if value is not marker}


def apply(args: argparse.Namespace, given: set[str], config: Config, env: Mapping[str, str] | None = None) -> None:
    """Fill `args`' options the command line left unset from the environment, then the config files."""
    env = os.environ if env is None else env
    for key in KEYS:
        if not hasattr(args, key) or key in given:
            continue
        value = from_env(key, env)
        if value is None:
            found = config.get(key)
            if found is None:
                continue
            value, source = found
            if key == "strategy":
                from greenloop.loop.strategies import STRATEGIES

                auto_ok = getattr(args, "strategy", None) == "auto"  # `fix` chooses by the model itself
                if value not in STRATEGIES and not (value == "auto" and auto_ok):
                    raise BadInput(f"{source}: key 'strategy' names no strategy ({value!r}); choose one of "
                                   f"{', '.join(STRATEGIES.names())}")
        setattr(args, key, value)
    strategy = getattr(args, "strategy", None)
    if strategy and hasattr(args, "settings"):
        params = config.strategy_params(strategy)
        if params:  # under --set: later pairs win
            args.settings = [f"{k}={v}" for k, v in params.items()] + list(args.settings or [])


def install_prices(config: Config) -> None:
    """Lay the config's prices over the built-in table (GREENLOOP_PRICES' file still lies over both)."""
    table = config.prices()
    if not table:
        return
    from greenloop.models import prices

    for spec, p in table.items():
        prices.BUILTIN_PRICES[spec] = prices.Price(p["input"], p["output"], p.get("cached_input"), p.get("cache_write"))
    prices._table.cache_clear()
