"""Named extension points: model providers, strategies and benchmarks, built in or from plugins.

A registry maps a name to a factory. Built-ins register here, and third-party packages add their
own through entry points (`greenloop.models`, `greenloop.strategies`, `greenloop.benchmarks`), read
on the first lookup, never at import. A plugin's entry point names an object: the factory itself.

Factory parameters (`--set width=4`) are checked and converted against the factory's signature,
so a typo or a wrong type is one clear error, not a crash deep in the loop.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from greenloop.errors import BadInput

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> factory, for one kind of extension (`what`), extended by the entry-point `group`."""

    def __init__(self, group: str, what: str) -> None:
        self.group, self.what = group, what
        self._factories: dict[str, Callable[..., T] | str] = {}
        self._loaded = False

    def register(self, name: str, factory: Callable[..., T] | str) -> None:
        """`factory` is a callable, or `"module:attribute"` imported on first use (as an entry point
        is), so that registering a built-in costs no import."""
        self._factories[name] = factory

    def _load_plugins(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for point in entry_points(group=self.group):
            if point.name in self._factories:
                continue  # a built-in keeps its name
            try:
                self._factories[point.name] = point.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break greenloop
                self._factories[point.name] = _broken(point.name, point.value, exc)

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def factory(self, name: str) -> Callable[..., T]:
        self._load_plugins()
        try:
            factory = self._factories[name]
        except KeyError:
            raise BadInput(f"unknown {self.what} {name!r}; choose one of {', '.join(self.names())}") from None
        if isinstance(factory, str):
            module, _, attribute = factory.partition(":")
            factory = getattr(importlib.import_module(module), attribute)
            self._factories[name] = factory
        return factory

    def create(self, name: str, params: Mapping[str, Any] | None = None) -> T:
        """Build `name` with `params` converted to the types its factory declares."""
        factory = self.factory(name)
        return factory(**coerce_params(factory, dict(params or {}), f"{self.what} {name!r}"))


def _broken(name: str, value: str, exc: Exception) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise BadInput(f"the plugin {name!r} ({value}) cannot be loaded: {type(exc).__name__}: {exc}")

    return fail


def coerce_params(factory: Callable[..., Any], params: dict[str, Any], what: str) -> dict[str, Any]:
    """`params` (strings from the command line, or values from a config file) as the types of the
    factory's parameter defaults; unknown names and unconvertible values are bad input."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return params
    accepted = {n: p for n, p in signature.parameters.items()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    converted: dict[str, Any] = {}
    for name, value in params.items():
        if name not in accepted:
            known = ", ".join(accepted) or "none"
            raise BadInput(f"{what} has no parameter {name!r}; its parameters are: {known}")
        default = accepted[name].default
        converted[name] = _convert(value, default, f"{what} parameter {name}")
    return converted


def _convert(value: Any, default: Any, what: str) -> Any:
    if default is inspect.Parameter.empty or default is None or not isinstance(value, str):
        return value
    kind = type(default)
    try:
        if kind is bool:
            lowered = value.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return lowered in ("true", "1", "yes")
        if kind in (int, float, str):
            return kind(value)
    except ValueError:
        raise BadInput(f"{what} must be {kind.__name__}, not {value!r}") from None
    return value


def parse_settings(pairs: list[str] | None) -> dict[str, str]:
    """`--set KEY=VALUE` pairs as a dict; a pair without `=` is bad input."""
    settings: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--set takes KEY=VALUE, not {pair!r}")
        settings[key.strip()] = value.strip()
    return settings
