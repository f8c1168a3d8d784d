import pytest
from wrapping import wrap

LOREM = "the quick brown fox jumps over the lazy dog"


def test_wraps_at_width():
    assert wrap(LOREM, width=10) == ["the quick", "brown fox", "jumps over", "the lazy", "dog"]


def test_every_line_fits():
    width = 15
    lines = wrap(LOREM, width=width)
    assert all(len(line) <= width for line in lines)
    assert " ".join(lines) == LOREM


def test_long_word_gets_its_own_line():
    assert wrap("a extraordinarily b", 5) == ["a", "extraordinarily", "b"]


def test_empty_text():
    assert wrap("", 10) == []


def test_width_must_be_positive():
    with pytest.raises(ValueError):
        wrap("abc", width=0)
