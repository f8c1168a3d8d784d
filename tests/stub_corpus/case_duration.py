import pytest
from duration import parse_duration


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("45s", 45),
        ("2m", 120),
        ("1h30m", 5400),
        ("1h 2m 3s", 3723),
        ("0s", 0),
    ],
)
def test_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5x", "h1", "1.5h"])
def test_invalid(bad):
    with pytest.raises(ValueError, match=r"invalid duration"):
        parse_duration(bad)
