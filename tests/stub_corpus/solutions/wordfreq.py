import re
from collections import Counter


def word_counts(text):
    return dict(Counter(re.findall(r"[a-z']+", text.lower())))


def top_words(text, n=3):
    counts = word_counts(text)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
