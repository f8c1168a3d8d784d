import string


def strength(password):
    if not isinstance(password, str):
        raise TypeError("password must be a string")
    classes = sum([any(c.islower() for c in password), any(c.isupper() for c in password),
                   any(c.isdigit() for c in password), any(c in string.punctuation for c in password)])
    if len(password) >= 12 and classes >= 3:
        return "strong"
    if len(password) >= 8 and classes >= 3:
        return "medium"
    return "weak"
