import pytest
from isbn import is_valid_isbn10


@pytest.mark.parametrize(
    "code",
    [
        "0306406152",
        "0-306-40615-2",
        pytest.param("080442957X", id="x-check-digit"),
        "3-598-21508-8",
    ],
)
def test_valid(code):
    assert is_valid_isbn10(code)


@pytest.mark.parametrize(
    "code",
    [
        "0306406153",
        "030640615",
        "03064061522",
        pytest.param("X306406152", id="x-not-last"),
        "",
    ],
)
def test_invalid(code):
    assert not is_valid_isbn10(code)
