import pytest
from intervals import merge


@pytest.fixture
def overlapping():
    return [(1, 3), (2, 6), (8, 10), (15, 18)]


def test_merge_overlapping(overlapping):
    assert merge(overlapping) == [(1, 6), (8, 10), (15, 18)]


def test_touching_intervals_merge():
    assert merge([(1, 4), (4, 5)]) == [(1, 5)]


def test_unsorted_input():
    assert merge([(5, 6), (1, 2)]) == [(1, 2), (5, 6)]


def test_empty():
    assert merge([]) == []


def test_result_is_a_new_list(overlapping):
    result = merge(overlapping)
    assert result is not overlapping
    assert len(result) == 3


def test_bad_interval():
    with pytest.raises(ValueError, match="start after end"):
        merge([(3, 1)])
