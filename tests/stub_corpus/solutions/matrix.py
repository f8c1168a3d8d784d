def transpose(m):
    return [list(row) for row in zip(*m, strict=True)]


def identity(n):
    return [[1 if i == j else 0 for j in range(n)] for i in range(n)]


def multiply(a, b):
    if len(a[0]) != len(b):
        raise ValueError("shapes do not match")
    return [[sum(x * y for x, y in zip(row, col, strict=True)) for col in zip(*b, strict=True)] for row in a]
