import pytest
from password import strength


@pytest.mark.parametrize(
    "password, expected",
    [
        ("abc", "weak"),
        ("password", "weak"),
        ("Password1", "medium"),
        ("Tr0ub4dor&3x", "strong"),
    ],
)
def test_strength(password, expected):
    assert strength(password) == expected


def test_result_is_one_of_three_levels():
    assert strength("whatever") in ("weak", "medium", "strong")


def test_longer_is_never_weaker():
    levels = ["weak", "medium", "strong"]
    assert levels.index(strength("Abcdefg1!xyz")) >= levels.index(strength("Abcdefg1"))


def test_rejects_non_strings():
    with pytest.raises(TypeError):
        strength(12345678)
