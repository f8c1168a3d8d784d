import re

_UNITS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text):
    compact = text.replace(" ", "")
    if not compact or not re.fullmatch(r"(\d+[hms])+", compact):
        raise ValueError(f"invalid duration: {text!r}")
    return sum(int(n) * _UNITS[unit] for n, unit in re.findall(r"(\d+)([hms])", compact))
