"""The value codec between the judge and the candidate process: tagged JSON, never pickle.

Plain data crosses by value and is rebuilt as exact builtins: None, bool, int, float (nan and
inf included), complex, str, bytes, bytearray, tuple, list, dict, set, frozenset, nested, and a
few standard value types (Decimal, Fraction, dates and times, paths, ranges, namedtuples rebuilt
as judge-side namedtuples). An instance of a builtin type's subclass crosses as that builtin's
value, so no `__eq__` of the candidate's survives the crossing. Everything else is handed to the
side's `other` hook (handles, exceptions, callables) and comes back through its `rebuild` hook.

Every JSON array is tagged by its first element, so nothing is ambiguous. Limits: nesting depth,
node count and message size, each with a clear `WireError`; a recursive structure is an error.
"""

from __future__ import annotations

import base64
import builtins
import collections
import datetime
import decimal
import fractions
import json
import pathlib
import socket
import struct
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 200
MAX_NODES = 2_000_000
MAX_BYTES = 256 * 1024 * 1024
_HEADER = struct.Struct("!I")
_SCALARS = (str, int, float, bool, type(None))


# Operators a judge-side handle forwards when the candidate's class defines them (object's own excluded).
DUNDERS = (
    "__len__", "__iter__", "__next__", "__reversed__", "__getitem__", "__setitem__", "__delitem__",
    "__contains__", "__call__", "__enter__", "__exit__", "__bool__", "__hash__", "__eq__", "__ne__", "__lt__",
    "__le__", "__gt__", "__ge__", "__neg__", "__pos__", "__abs__", "__invert__", "__int__", "__float__",
    "__complex__", "__index__", "__round__", "__trunc__", "__floor__", "__ceil__", "__length_hint__",
    *(f"__{p}{op}__" for op in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "divmod", "pow",
                                "lshift", "rshift", "and", "xor", "or") for p in ("", "r", "i")),
)


class WireError(ValueError):
    """A value cannot cross between the judge and the candidate."""


class PeerLost(EOFError):
    """The other side of the pipe is gone."""


Other = Callable[[Any], list[Any]]
Rebuild = Callable[[list[Any]], Any]


class Encoder:
    """Turns a value into JSON-able tagged data; `other` encodes what is not plain data."""

    def __init__(self, other: Other) -> None:
        self.other = other
        self.nodes = 0
        self.active: set[int] = set()

    def __call__(self, value: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise WireError(f"the value has more than {MAX_NODES} parts; return something smaller")
        if depth > MAX_DEPTH:
            raise WireError(f"the value is nested deeper than {MAX_DEPTH} levels")
        kind = type(value)
        if kind is str or kind is bool or value is None:
            return value
        if kind is int:
            return value if -(1 << 63) < value < (1 << 63) else ["i", hex(value)]
        if kind is float:
            return value
        if value is Ellipsis:
            return ["E"]
        if value is NotImplemented:
            return ["NI"]
        if isinstance(value, BaseException) or isinstance(value, type):
            return self.other(value)
        container = _container_tag(value)
        if container:
            if id(value) in self.active:
                raise WireError(f"a recursive {type(value).__name__} cannot cross; return a copy without the cycle")
            self.active.add(id(value))
            try:
                return self._container(container, value, depth)
            finally:
                self.active.discard(id(value))
        return self._scalar(value)

    def _container(self, tag: str, value: Any, depth: int) -> list[Any]:
        if tag == "n":
            fields = list(type(value)._fields)
            return ["n", type(value).__name__, fields, *[self(v, depth + 1) for v in tuple.__iter__(value)]]
        if tag == "dq":
            return ["dq", value.maxlen, *[self(v, depth + 1) for v in list(value)]]
        if tag in ("d", "dc"):
            out: list[Any] = ["d"]
            if tag == "dc":
                factory: Any = getattr(value, "default_factory", None)
                name = getattr(factory, "__name__", None)
                name = name if isinstance(name, str) and _FACTORIES.get(name) is factory else None
                out = ["dc", _DICTS[type(value)], name]
            for key, item in dict.items(value):
                out.append(self(key, depth + 1))
                out.append(self(item, depth + 1))
            return out
        items: Any = _ITERATE[tag](value)
        return [tag, *[self(v, depth + 1) for v in items]]

    def _scalar(self, value: Any) -> Any:
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return self(int.__int__(value))
        if isinstance(value, float):
            return float.__float__(value)
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, complex):
            return ["c", complex.real.__get__(value), complex.imag.__get__(value)]  # type: ignore[attr-defined]
        if isinstance(value, (bytes, bytearray)):
            tag = "b" if isinstance(value, bytes) else "ba"
            return [tag, base64.b64encode(bytes(memoryview(value))).decode("ascii")]
        special = _special(value)
        if special is not None:
            return special
        return self.other(value)


# The builtins' own iteration: a subclass's __iter__ does not decide what crosses.
_ITERATE: dict[str, Any] = {"l": list.__iter__, "t": tuple.__iter__, "s": set.__iter__, "fs": frozenset.__iter__}


# collections' own dict and sequence types cross as themselves (their judge-side classes are the
# standard library's); a defaultdict keeps its factory only when it is one of these builtins.
_DICTS: dict[Any, str] = {collections.Counter: "Counter", collections.OrderedDict: "OrderedDict",
                          collections.defaultdict: "defaultdict"}
_FACTORIES: dict[str, Any] = {t.__name__: t for t in (list, int, set, dict, str, float, tuple, frozenset, bool)}


def _container_tag(value: Any) -> str:
    if type(value) in _DICTS:
        return "dc"
    if type(value) is collections.deque:
        return "dq"
    if isinstance(value, tuple):
        return "n" if _is_namedtuple(type(value)) else "t"
    if isinstance(value, list):
        return "l"
    if isinstance(value, dict):
        return "d"
    if isinstance(value, frozenset):
        return "fs"
    if isinstance(value, set):
        return "s"
    return ""


def _is_namedtuple(cls: type) -> bool:
    fields = getattr(cls, "_fields", None)
    return type(fields) is tuple and all(type(f) is str and f.isidentifier() for f in fields)


def _special(value: Any) -> list[Any] | None:
    """Standard-library value types, by their canonical text (their judge-side classes are trusted)."""
    kind = type(value)
    if kind is decimal.Decimal:
        return ["x", "decimal", str(value)]
    if kind is fractions.Fraction:
        return ["x", "fraction", str(value)]
    if kind is datetime.timedelta:
        return ["x", "timedelta", f"{value.days},{value.seconds},{value.microseconds}"]
    if kind in (datetime.date, datetime.datetime, datetime.time) and getattr(value, "tzinfo", None) is None:
        return ["x", kind.__name__, value.isoformat()]
    if kind in (pathlib.PurePosixPath, pathlib.PosixPath):
        return ["x", kind.__name__, str(value)]
    if kind is range:
        return ["x", "range", f"{value.start},{value.stop},{value.step}"]
    return None


_SPECIAL_BUILD: dict[str, Callable[[str], Any]] = {
    "decimal": decimal.Decimal,
    "fraction": fractions.Fraction,
    "timedelta": lambda s: datetime.timedelta(*(int(p) for p in s.split(","))),
    "date": datetime.date.fromisoformat,
    "datetime": datetime.datetime.fromisoformat,
    "time": datetime.time.fromisoformat,
    "PurePosixPath": pathlib.PurePosixPath,
    "PosixPath": pathlib.PosixPath,
    "range": lambda s: range(*(int(p) for p in s.split(","))),
}


def _namedtuple(name: str, fields: list[str]) -> type:
    key = (name, tuple(fields))
    cls = _NAMEDTUPLES.get(key)
    if cls is None:
        safe = name if name.isidentifier() else "namedtuple"
        cls = _NAMEDTUPLES[key] = collections.namedtuple(safe, fields, rename=True)  # type: ignore[misc]
    return cls


_NAMEDTUPLES: dict[tuple[str, tuple[str, ...]], type] = {}


def decode(data: Any, rebuild: Rebuild, depth: int = 0) -> Any:
    """Rebuild a value from tagged data as exact builtins; `rebuild` makes everything else."""
    kind = type(data)
    if kind in _SCALARS:
        return data
    if kind is not list or not data or type(data[0]) is not str:
        raise WireError(f"malformed value on the wire: {str(data)[:80]}")
    if depth > MAX_DEPTH + 5:
        raise WireError(f"the value is nested deeper than {MAX_DEPTH} levels")
    tag = data[0]
    if tag == "l":
        return [decode(x, rebuild, depth + 1) for x in data[1:]]
    if tag == "t":
        return tuple(decode(x, rebuild, depth + 1) for x in data[1:])
    if tag == "d":
        items = data[1:]
        return {decode(items[i], rebuild, depth + 1): decode(items[i + 1], rebuild, depth + 1)
                for i in range(0, len(items) - 1, 2)}
    if tag == "s":
        return {decode(x, rebuild, depth + 1) for x in data[1:]}
    if tag == "dc":
        pairs = [decode(["t", *data[i:i + 2]], rebuild, depth + 1) for i in range(3, len(data) - 1, 2)]
        if data[1] == "Counter":
            return collections.Counter(dict(pairs))
        if data[1] == "OrderedDict":
            return collections.OrderedDict(pairs)
        return collections.defaultdict(_FACTORIES.get(str(data[2])), pairs)
    if tag == "dq":
        maxlen = data[1] if type(data[1]) is int and data[1] >= 0 else None
        return collections.deque((decode(x, rebuild, depth + 1) for x in data[2:]), maxlen)
    if tag == "fs":
        return frozenset(decode(x, rebuild, depth + 1) for x in data[1:])
    if tag == "i":
        return int(str(data[1]), 16)
    if tag == "c":
        return complex(float(data[1]), float(data[2]))
    if tag in ("b", "ba"):
        raw = base64.b64decode(str(data[1]))
        return raw if tag == "b" else bytearray(raw)
    if tag == "E":
        return Ellipsis
    if tag == "NI":
        return NotImplemented
    if tag == "n":
        fields = [str(f) for f in data[2]]
        return _namedtuple(str(data[1]), fields)(*(decode(x, rebuild, depth + 1) for x in data[3:]))
    if tag == "x":
        build = _SPECIAL_BUILD.get(str(data[1]))
        if build is None:
            raise WireError(f"unknown value type on the wire: {data[1]!r}")
        return build(str(data[2]))
    if tag == "B":
        found = getattr(builtins, str(data[1]), None)
        if not isinstance(found, type):
            raise WireError(f"not a builtin type: {data[1]!r}")
        return found
    return rebuild(data)


def dumps(message: Any) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    if len(body) > MAX_BYTES:
        raise WireError(f"the message is {len(body)} bytes, over the {MAX_BYTES}-byte limit")
    return _HEADER.pack(len(body)) + body


def send(sock: socket.socket, message: Any) -> None:
    sock.sendall(dumps(message))


def recv(sock: socket.socket) -> Any:
    header = _read_exactly(sock, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    if size > MAX_BYTES:
        raise WireError(f"a {size}-byte message is over the {MAX_BYTES}-byte limit")
    return json.loads(_read_exactly(sock, size))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    view = bytearray(size)
    got = 0
    while got < size:
        n = sock.recv_into(memoryview(view)[got:], size - got)
        if n == 0:
            raise PeerLost("the other side closed the connection")
        got += n
    return bytes(view)


class Peer:
    """One end of the judge–candidate connection: a request waits for its reply, serving the
    other side's nested requests (a callback, a call from inside a callback) meanwhile."""

    def __init__(self, sock: socket.socket, handle: Callable[[list[Any]], list[Any]]) -> None:
        self.sock = sock
        self.handle = handle

    def request(self, message: list[Any]) -> list[Any]:
        send(self.sock, ["q", *message])
        while True:
            reply = recv(self.sock)
            if type(reply) is not list or not reply:
                raise WireError("malformed message on the wire")
            if reply[0] != "q":
                return list(reply)
            send(self.sock, self.handle(list(reply[1:])))
