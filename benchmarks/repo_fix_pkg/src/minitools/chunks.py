"""Splitting sequences."""


def chunk(items, size):
    """Consecutive pieces of `items` of length `size`; the last may be shorter."""
    return [items[i:i + size] for i in range(0, len(items), size)]


def window(items, size):
    """Every run of `size` consecutive items, in order."""
    return [items[i:i + size] for i in range(len(items) - size + 1)]
