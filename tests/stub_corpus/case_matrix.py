import pytest
from matrix import identity, multiply, transpose


def test_transpose_square():
    assert transpose([[1, 2], [3, 4]]) == [[1, 3], [2, 4]]


def test_transpose_rectangular():
    m = [[1, 2, 3]]
    t = transpose(m)
    assert len(t) == 3
    assert t == [[1], [2], [3]]


def test_identity():
    assert identity(2) == [[1, 0], [0, 1]]
    assert identity(0) == []


def test_identity_is_neutral():
    m = [[2, 3], [4, 5]]
    assert multiply(m, identity(2)) == m


def test_multiply():
    a = [[1, 2], [3, 4]]
    b = [[5, 6], [7, 8]]
    assert multiply(a, b) == [[19, 22], [43, 50]]


def test_multiply_shape_mismatch():
    with pytest.raises(ValueError, match="shapes"):
        multiply([[1, 2]], [[1, 2]])
