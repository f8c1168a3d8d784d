"""The split judge's value codec: plain data is rebuilt as exact builtins, nothing else gets through."""

from __future__ import annotations

import datetime
import decimal
import fractions
import json
import math
import socket
from collections import Counter, OrderedDict, defaultdict, deque, namedtuple
from typing import Any

import pytest

from greenloop.execute import wire


def refuse(value: Any) -> list[Any]:
    raise wire.WireError(f"no handles here: {type(value).__name__}")


def no_handles(data: list[Any]) -> Any:
    raise AssertionError(f"unexpected tag {data[0]!r}")


def roundtrip(value: Any) -> Any:
    """Encode, frame as the pipe does, decode."""
    return wire.decode(json.loads(wire.dumps(wire.Encoder(refuse)(value))[4:]), no_handles)


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**64 + 3, -(2**200), 1.5, -0.0, math.inf, -math.inf, 1 + 2j, "",
    "héllo\ud800", b"\x00\xff", bytearray(b"ab"), (1, (2, [3])), [1, [2, {"a": {3, 4}}]], {1: "a", (2, 3): [None]},
    {frozenset({1, 2}), 3}, frozenset(), [..., range(1, 10, 2)], decimal.Decimal("1.10"), fractions.Fraction(3, 7),
    datetime.date(2026, 11, 25), datetime.datetime(2026, 11, 25, 16, 45, 1, 5), datetime.timedelta(days=1, seconds=3),
])
def test_plain_values_cross_unchanged_with_their_exact_types(value: Any) -> None:
    back = roundtrip(value)
    assert back == value and type(back) is type(value)


def test_nan_and_huge_ints_cross() -> None:
    assert math.isnan(roundtrip(math.nan))
    assert roundtrip(-(10**5000)) == -(10**5000)  # past str()'s digit limit: hex on the wire


def test_subclasses_of_builtins_cross_as_the_builtin_value() -> None:
    class Liar(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    class Text(str):
        def __str__(self) -> str:
            return "forged"

    class Items(list):  # type: ignore[type-arg]
        pass

    back = roundtrip([Liar(3), Text("real"), Items([1, 2])])
    assert back == [3, "real", [1, 2]]
    assert [type(x) for x in back] == [int, str, list]
    assert back[0] != 4  # the builtin's own ==, not the subclass's


def test_namedtuples_are_rebuilt_as_judge_side_namedtuples() -> None:
    point = namedtuple("Point", "x y")  # noqa: PYI024
    back = roundtrip(point(1, 2))
    assert back == (1, 2) and back.x == 1 and type(back).__name__ == "Point"
    assert type(back) is not point and type(back).__eq__ is tuple.__eq__


def test_collections_types_cross_as_themselves() -> None:
    counts = roundtrip(Counter("abca"))
    assert type(counts) is Counter and counts["z"] == 0 and counts == {"a": 2, "b": 1, "c": 1}
    groups = roundtrip(defaultdict(list, {"a": [1]}))
    assert type(groups) is defaultdict and groups["new"] == [] and groups["a"] == [1]
    ordered = roundtrip(OrderedDict([("b", 1), ("a", 2)]))
    assert type(ordered) is OrderedDict and list(ordered) == ["b", "a"]
    window = roundtrip(deque([1, 2, 3], maxlen=3))
    assert type(window) is deque and window.maxlen == 3 and list(window) == [1, 2, 3]
    odd = defaultdict(lambda: 7, {"a": 1})  # a factory of the candidate's does not cross
    assert roundtrip(odd).default_factory is None


def test_recursive_structures_are_refused_clearly() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(wire.WireError, match="recursive list"):
        roundtrip(loop)


def test_depth_and_size_limits_are_enforced() -> None:
    deep: list[Any] = []
    for _ in range(wire.MAX_DEPTH + 10):
        deep = [deep]
    with pytest.raises(wire.WireError, match="nested deeper"):
        roundtrip(deep)
    with pytest.raises(wire.WireError, match="malformed"):
        wire.decode({"not": "tagged"}, no_handles)


def test_other_objects_go_to_the_hook() -> None:
    with pytest.raises(wire.WireError, match="no handles here: object"):
        roundtrip([object()])


def test_messages_frame_over_a_socket_and_a_closed_peer_is_reported() -> None:
    a, b = socket.socketpair()
    with a, b:
        wire.send(a, ["q", "x" * 100_000, [1, 2]])
        assert wire.recv(b) == ["q", "x" * 100_000, [1, 2]]
        a.close()
        with pytest.raises(wire.PeerLost):
            wire.recv(b)
