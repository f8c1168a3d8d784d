import pytest
from wordfreq import top_words, word_counts

TEXT = "the cat and the hat and the bat"


@pytest.fixture
def text():
    return TEXT


def test_counts(text):
    counts = word_counts(text)
    assert counts["the"] == 3
    assert counts["cat"] == 1
    assert "dog" not in counts


def test_counts_ignore_case_and_punctuation():
    assert word_counts("Hi, hi! HI.") == {"hi": 3}


def test_top_words(text):
    assert top_words(text, n=2) == [("the", 3), ("and", 2)]


def test_top_words_default_is_three(text):
    assert len(top_words(text)) == 3


def test_ties_break_alphabetically():
    assert top_words("b a c", n=2) == [("a", 1), ("b", 1)]


def test_empty_text():
    assert word_counts("") == {}
    assert top_words("") == []
