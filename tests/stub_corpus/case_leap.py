import pytest
from leap import days_in_year, is_leap


@pytest.mark.parametrize("year", [1996, 2000, 2024, 1600])
def test_leap_years(year):
    assert is_leap(year)


@pytest.mark.parametrize("year", [1900, 2023, 2100, 1])
def test_common_years(year):
    assert not is_leap(year)


@pytest.mark.parametrize("year, days", [(2024, 366), (2023, 365)])
def test_days(year, days):
    assert days_in_year(year) == days
