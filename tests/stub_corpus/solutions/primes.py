def is_prime(n):
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n ** 0.5) + 1))


def primes_up_to(limit):
    return [n for n in range(2, limit + 1) if is_prime(n)]
