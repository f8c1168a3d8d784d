"""Small utilities: the package the repo-mode benchmark seeds bugs into."""

from minitools.chunks import chunk, window
from minitools.dates import is_leap
from minitools.stats import clamp, mean
from minitools.text import plural

__all__ = ["chunk", "clamp", "is_leap", "mean", "plural", "window"]
