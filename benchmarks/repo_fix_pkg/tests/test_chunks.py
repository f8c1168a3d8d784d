from minitools import chunk, window


def test_chunk_even():
    assert chunk([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


def test_chunk_keeps_the_short_tail():
    assert chunk([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


def test_window():
    assert window([1, 2, 3, 4], 3) == [[1, 2, 3], [2, 3, 4]]


def test_window_of_the_whole_list():
    assert window([1, 2], 2) == [[1, 2]]
