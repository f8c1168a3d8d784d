import math


def mean(data):
    if not data:
        raise ValueError("mean of empty data")
    return sum(data) / len(data)


def median(data):
    if not data:
        raise ValueError("median of empty data")
    s = sorted(data)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def stdev(data):
    m = mean(data)
    return math.sqrt(sum((x - m) ** 2 for x in data) / (len(data) - 1))
