import pytest
from temperature import celsius_to_fahrenheit, fahrenheit_to_celsius


def test_freezing_and_boiling():
    assert celsius_to_fahrenheit(0) == 32
    assert celsius_to_fahrenheit(100) == 212


def test_body_temperature():
    assert celsius_to_fahrenheit(37) == pytest.approx(98.6)


def test_back_to_celsius():
    assert fahrenheit_to_celsius(98.6) == pytest.approx(37.0, abs=1e-9)
    assert fahrenheit_to_celsius(-40) == -40


def test_roundtrip():
    value = 21.5
    assert fahrenheit_to_celsius(celsius_to_fahrenheit(value)) == pytest.approx(value)


def test_below_absolute_zero():
    with pytest.raises(ValueError, match="absolute zero"):
        celsius_to_fahrenheit(-300)
