from toolz import frequencies, get_in, merge_with, tail, take


def test_tail():
    assert tail(2, [10, 20, 30, 40, 50]) == [40, 50]


def test_take():
    assert list(take(2, [10, 20, 30])) == [10, 20]


def test_frequencies():
    assert frequencies(["cat", "cat", "ox", "pig", "pig", "cat"]) == {"cat": 3, "ox": 1, "pig": 2}


def test_merge_with():
    assert merge_with(sum, {1: 1, 2: 2}, {1: 10, 2: 20}) == {1: 11, 2: 22}


def test_get_in():
    data = {"name": "Alice", "purchase": {"items": ["Apple", "Orange"]}}
    assert get_in(["purchase", "items", 0], data) == "Apple"
    assert get_in(["purchase", "items", 5], data, default="none") == "none"
