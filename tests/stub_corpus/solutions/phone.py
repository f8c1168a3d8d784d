import re


def normalize_phone(raw):
    main, _, ext = raw.partition("x")
    digits = re.sub(r"\D", "", main)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise ValueError(f"invalid phone number: {raw!r}")
    out = f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    ext = ext.strip()
    return f"{out} ext. {ext}" if ext else out
