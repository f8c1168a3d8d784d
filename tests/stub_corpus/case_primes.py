import pytest
from primes import is_prime, primes_up_to


@pytest.mark.parametrize("n", [2, 3, 5, 97])
def test_primes(n):
    assert is_prime(n) is True


@pytest.mark.parametrize("n", [0, 1, 4, 100])
def test_not_primes(n):
    assert is_prime(n) is False


def test_primes_up_to_ten():
    assert primes_up_to(10) == [2, 3, 5, 7]


def test_primes_up_to_is_consistent():
    found = primes_up_to(50)
    assert all(is_prime(p) for p in found)
    assert len(found) == 15


def test_small_limits():
    assert primes_up_to(1) == []
    assert primes_up_to(2) == [2]
