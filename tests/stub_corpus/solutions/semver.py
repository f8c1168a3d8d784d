def parse(version):
    parts = version.lstrip("v").split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{version!r} is not a version")
    return tuple(int(p) for p in parts)


def compare(a, b):
    x, y = parse(a), parse(b)
    return (x > y) - (x < y)
