# A subset of toolz 1.2.0 (BSD, see LICENSE.txt): itertoolz and dicttoolz only.
from .itertoolz import *  # noqa: F401,F403
from .dicttoolz import *  # noqa: F401,F403
