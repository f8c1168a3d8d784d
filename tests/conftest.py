"""Shared fixtures: a small task on disk and scripted model replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SLUG_TESTS = '''\
import pytest
from slugger import slugify


def test_basic():
    assert slugify("Hello World") == "hello-world"


@pytest.mark.parametrize("text, expected", [("A", "a"), ("B  C", "b-c")])
def test_param(text, expected):
    assert slugify(text) == expected


def test_rejects_none():
    with pytest.raises(TypeError):
        slugify(None)
'''

GOOD = '''\
def slugify(text):
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    return "-".join(text.lower().split())
'''
PARTIAL = '''\
def slugify(text):
    return "-".join(text.lower().split())
'''
WRONG = '''\
def slugify(text):
    return text
'''


def fenced(code: str) -> str:
    return f"Here is the module:\n```python\n{code}```\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "test_slugger.py").write_text(SLUG_TESTS)
    return tmp_path


@pytest.fixture
def script(tmp_path: Path):
    def write(*replies: str) -> str:
        path = tmp_path / "script.json"
        path.write_text(json.dumps(list(replies)))
        return f"scripted:{path}"

    return write
