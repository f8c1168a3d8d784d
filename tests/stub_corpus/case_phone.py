import pytest
from phone import normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["(555) 123-4567", "555.123.4567", "555 123 4567", "+1 555 123 4567", "5551234567"],
)
def test_formats_normalize_to_the_same_number(raw):
    assert normalize_phone(raw) == "555-123-4567"


def test_keeps_extension():
    assert normalize_phone("555-123-4567 x89") == "555-123-4567 ext. 89"


@pytest.mark.parametrize("raw", ["123", "555-123-456", "abc-def-ghij"])
def test_invalid(raw):
    with pytest.raises(ValueError, match=r"^invalid phone number"):
        normalize_phone(raw)
