"""The demo task: tests first, greenloop writes temperature.py until they pass."""

from temperature import celsius_to_fahrenheit


def test_freezing_point():
    assert celsius_to_fahrenheit(0) == 32


def test_boiling_point():
    assert celsius_to_fahrenheit(100) == 212


def test_minus_forty_is_the_same_in_both():
    assert celsius_to_fahrenheit(-40) == -40


def test_a_mild_day():
    assert celsius_to_fahrenheit(10) == 50
