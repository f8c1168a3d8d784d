def _key(word):
    return sorted(word.replace(" ", "").lower())


def are_anagrams(a, b):
    return _key(a) == _key(b)


def group_anagrams(words):
    groups = {}
    for word in words:
        groups.setdefault("".join(_key(word)), []).append(word)
    return list(groups.values())
