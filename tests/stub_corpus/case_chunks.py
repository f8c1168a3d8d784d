import pytest
from chunks import chunk


def test_even_split():
    assert chunk([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


def test_last_chunk_shorter():
    items = list(range(5))
    assert chunk(items, 2) == [[0, 1], [2, 3], [4]]


def test_size_larger_than_list():
    assert chunk(["a"], 10) == [["a"]]


def test_empty():
    assert chunk([], 3) == []


def test_every_chunk_is_at_most_size():
    parts = chunk(list(range(10)), 3)
    assert all(len(p) <= 3 for p in parts)
    assert sum(len(p) for p in parts) == 10


@pytest.mark.parametrize("size", [0, -1])
def test_bad_size(size):
    with pytest.raises(ValueError, match="size must be positive"):
        chunk([1, 2], size)
