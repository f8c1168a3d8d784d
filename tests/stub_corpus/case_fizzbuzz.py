import pytest
from fizzbuzz import fizzbuzz, fizzbuzz_line

CASES = [
    (1, '1'),
    (2, '2'),
    (3, 'Fizz'),
    (4, '4'),
    (5, 'Buzz'),
    (6, 'Fizz'),
    (7, '7'),
    (8, '8'),
    (9, 'Fizz'),
    (10, 'Buzz'),
    (11, '11'),
    (12, 'Fizz'),
    (13, '13'),
    (14, '14'),
    (15, 'FizzBuzz'),
    (16, '16'),
    (17, '17'),
    (18, 'Fizz'),
    (19, '19'),
    (20, 'Buzz'),
    (21, 'Fizz'),
    (22, '22'),
    (23, '23'),
    (24, 'Fizz'),
    (25, 'Buzz'),
    (26, '26'),
    (27, 'Fizz'),
    (28, '28'),
    (29, '29'),
    (30, 'FizzBuzz'),
]


@pytest.mark.parametrize("n, expected", CASES)
def test_fizzbuzz(n, expected):
    assert fizzbuzz(n) == expected


def test_line():
    assert fizzbuzz_line(5) == "1 2 Fizz 4 Buzz"


def test_negative():
    with pytest.raises(ValueError):
        fizzbuzz(-1)
