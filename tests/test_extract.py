"""Extracting a candidate module from model replies."""

from __future__ import annotations

from greenloop.loop.extract import extract_code, normalise


def test_picks_the_block_defining_the_required_name() -> None:
    reply = "Usage:\n```python\nprint(add(1, 2))\n```\nCode:\n```python\ndef add(a, b):\n    return a + b\n```\n"
    assert extract_code(reply, ["add"]) == "def add(a, b):\n    return a + b\n"


def test_keeps_formatting_and_comments() -> None:
    reply = "```python\ndef add(a, b):\n    # sum them\n    return a+b\n```"
    assert extract_code(reply, ["add"]) == "def add(a, b):\n    # sum them\n    return a+b\n"


def test_drops_statements_that_run_at_import() -> None:
    reply = (
        "```python\ndef add(a, b):\n    return a + b\n\nassert add(1, 2) == 3\nprint(add(2, 2))\n"
        "if __name__ == '__main__':\n    add(0, 0)\n\ndef test_add():\n    assert add(1, 1) == 2\n```"
    )
    assert extract_code(reply, ["add"]) == "def add(a, b):\n    return a + b\n"


def test_truncated_reply_keeps_the_longest_prefix_that_parses() -> None:
    reply = "```python\ndef add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return 'unterminated"
    assert extract_code(reply, ["add"]) == "def add(a, b):\n    return a + b\n"


def test_restores_the_stub_imports_the_reply_dropped() -> None:
    stub = "from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    ...\n"
    code = extract_code("```python\ndef total(xs: List[int]) -> int:\n    return sum(xs)\n```", ["total"], stub)
    assert code is not None and code.startswith("from typing import List\n")


def test_removes_unreferenced_padding_functions_but_keeps_helpers() -> None:
    reply = (
        "```python\ndef helper(x):\n    return x * 2\n\ndef double(x):\n    return helper(x)\n\n"
        "def double_manual_manual(x):\n    return x + x\n```"
    )
    assert extract_code(reply, ["double"]) == "def helper(x):\n    return x * 2\n\ndef double(x):\n    return helper(x)\n"


def test_reply_without_python_gives_none() -> None:
    assert extract_code("I cannot help with that.", ["add"]) is None
    assert extract_code("```python\nprint('hi')\n```", ["add"]) is None


def test_unfenced_reply_is_used_when_it_parses() -> None:
    assert extract_code("def add(a, b):\n    return a + b", ["add"]) == "def add(a, b):\n    return a + b\n"


def test_normalise_ignores_formatting_and_comments() -> None:
    assert normalise("def f(x):\n    return (x)  # hi\n") == normalise("def f(x):\n\n    return x\n")
    assert normalise("def f(x):\n    return x\n") != normalise("def f(x):\n    return -x\n")


def test_a_broken_definition_is_kept_so_that_running_it_reports_the_syntax_error() -> None:
    reply = "```python\ndef add(a, b):\n    return [a + b for x in (]\n```"
    assert extract_code(reply, ["add"], "import math\n\ndef add(a, b):\n    ...\n") == (
        "import math\ndef add(a, b):\n    return [a + b for x in (]\n")
    # a parseable definition of the name still wins over a broken one
    assert extract_code("```python\ndef add(a, b):\n    return a + b\n```", ["add"]) == "def add(a, b):\n    return a + b\n"


def test_the_dedupe_key_keeps_an_encoding_declaration() -> None:
    """Formatting and comments do not change behaviour; a coding cookie does (it decides what the
    file's bytes mean), so two candidates differing in it are not duplicates."""
    from greenloop.loop.extract import normalise

    plain = "x = 'é'\n"
    assert normalise(plain) == normalise("x  =  'é'   # a comment\n")
    assert normalise("# -*- coding: latin-1 -*-\n" + plain) != normalise(plain)
