import pytest
from slugs import slugify


@pytest.mark.parametrize(
    "title, slug",
    [
        ("Hello World", "hello-world"),
        ("  spaces  around ", "spaces-around"),
        ("Ünïcode Çafé", "unicode-cafe"),
        ("C++ & Rust!", "c-rust"),
        ("", ""),
    ],
    ids=["basic", "trim", "accents", "punctuation", "empty"],
)
def test_slugify(title, slug):
    assert slugify(title) == slug


def test_custom_separator():
    assert slugify("Hello World", separator="_") == "hello_world"


def test_max_length_cuts_on_a_word():
    assert slugify("the quick brown fox", max_length=12) == "the-quick"
