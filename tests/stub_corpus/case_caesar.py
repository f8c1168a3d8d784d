import pytest
from caesar import decrypt, encrypt


@pytest.fixture
def message():
    return "Attack at dawn!"


def test_encrypt_shift_three():
    assert encrypt("abc", 3) == "def"


def test_wraps_around():
    assert encrypt("xyz", 3) == "abc"


def test_keeps_case_and_punctuation(message):
    assert encrypt(message, 1) == "Buubdl bu ebxo!"


def test_negative_shift():
    assert encrypt("def", -3) == "abc"


@pytest.mark.parametrize("shift", [0, 1, 13, 25, 26, 52])
def test_roundtrip(message, shift):
    assert decrypt(encrypt(message, shift), shift) == message
