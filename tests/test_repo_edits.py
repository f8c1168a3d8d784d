"""Applying model replies to files: exact, whole or not at all, and errors that say precisely why."""

from __future__ import annotations

from greenloop.repo.edits import apply_reply, parse_reply

CORE = '''\
import math


def add(a, b):
    return a - b


def mean(xs):
    return sum(xs) // len(xs)


class Cart:
    tax = 0

    def total(self, prices):
        return sum(prices)

    def count(self, prices):
        return len(prices) - 1


if __name__ == "__main__":
    print(add(1, 2))
'''
FILES = {"src/calc/core.py": CORE, "src/calc/util.py": "def one():\n    return 1\n",
         "tests/test_calc.py": "def test_add():\n    assert True\n"}


def protect(path: str) -> str | None:
    return f"{path} holds tests" if path.startswith("tests/") else None


def apply(reply: str, files: dict[str, str] | None = None, editable: list[str] | None = None):
    files = FILES if files is None else files
    return apply_reply(reply, read=files.get, protect=protect,
                       editable=["src/calc/core.py"] if editable is None else editable)


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def test_search_replace_block_changes_exactly_the_matched_lines() -> None:
    result = apply("Here is the fix:\n```python\n" + block("src/calc/core.py", "    return a - b", "    return a + b")
                   + "```\n")
    assert not result.errors
    assert result.changes == {"src/calc/core.py": CORE.replace("return a - b", "return a + b")}
    assert result.notes == ["src/calc/core.py: replaced lines 5-5"]


def test_blocks_apply_in_order_to_several_files() -> None:
    reply = (block("src/calc/core.py", "    return a - b", "    return a + b")
             + block("src/calc/core.py", "    return sum(xs) // len(xs)", "    return sum(xs) / len(xs)")
             + block("src/calc/util.py", "    return 1", "    return 1.0"))
    result = apply(reply)
    assert set(result.changes) == {"src/calc/core.py", "src/calc/util.py"}
    assert "a + b" in result.changes["src/calc/core.py"] and "sum(xs) / len(xs)" in result.changes["src/calc/core.py"]


def test_search_text_not_found_names_the_file_and_shows_the_closest_lines_and_applies_nothing() -> None:
    reply = block("src/calc/core.py", "    return a - b", "    return a + b") + block(
        "src/calc/core.py", "def mean(values):\n    return sum(values) // len(values)", "def mean(values): ...")
    result = apply(reply)
    assert result.changes == {}  # the first block was fine, but a reply is applied whole or not at all
    assert len(result.errors) == 1
    error = result.errors[0]
    assert "SEARCH block 2: this SEARCH text was not found in src/calc/core.py; the closest lines are:" in error
    assert "   8 | def mean(xs):" in error and "   9 |     return sum(xs) // len(xs)" in error


def test_ambiguous_search_text_is_an_error_with_line_numbers() -> None:
    files = {"m.py": "x = 1\ny = 2\nx = 1\n"}
    result = apply(block("m.py", "x = 1", "x = 3"), files, ["m.py"])
    assert result.errors == ["SEARCH block 1: this SEARCH text occurs 2 times in m.py (lines 1, 3); "
                             "add lines around it so it matches once"]


def test_malformed_blocks_are_reported_not_guessed() -> None:
    no_divider = "src/calc/core.py\n<<<<<<< SEARCH\n    return a - b\n>>>>>>> REPLACE\n"
    assert apply(no_divider).errors == ["SEARCH block 1 for src/calc/core.py has no ======= line after its "
                                        "SEARCH text"]
    unclosed = "src/calc/core.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n"
    result = apply(unclosed)
    assert result.changes == {} and "is not closed" in result.errors[0]
    assert apply("I think the bug is in add.").errors  # prose only: no edits
    blocks, code, errors = parse_reply("a\n<<<<<<< SEARCH\nb\n<<<<<<< SEARCH\nc\n=======\nd\n>>>>>>> REPLACE\n")
    assert errors == ["SEARCH block 1 has no ======= line after its SEARCH text"] and len(blocks) == 1


def test_edits_to_tests_are_refused_and_reported_while_the_rest_applies() -> None:
    reply = block("tests/test_calc.py", "    assert True", "    assert 1") + block(
        "src/calc/core.py", "    return a - b", "    return a + b")
    result = apply(reply)
    assert result.refused == ["tests/test_calc.py holds tests"]
    assert list(result.changes) == ["src/calc/core.py"]
    only_tests = apply(block("tests/test_calc.py", "    assert True", "    assert 1"))
    assert only_tests.changes == {} and "refused: tests/test_calc.py holds tests" in only_tests.feedback()


def test_indentation_slips_and_trailing_spaces_still_match_and_the_replacement_is_reindented() -> None:
    reply = block("src/calc/core.py", "def count(self, prices):\n    return len(prices) - 1  ",
                  "def count(self, prices):\n    return len(prices)")
    result = apply(reply)
    assert "    def count(self, prices):\n        return len(prices)\n" in result.changes["src/calc/core.py"]


def test_paths_are_resolved_inside_the_repository_only() -> None:
    assert apply(block("core.py", "    return a - b", "    return a + b")).changes  # unique suffix of a shown file
    assert apply(block("../outside.py", "x", "y")).errors == ["../outside.py is outside the repository"]
    assert "absolute path" in apply(block("/etc/passwd", "x", "y")).errors[0]
    assert "inside .git" in apply(block(".git/config", "x", "y")).errors[0]
    missing = apply(block("src/calc/nope.py", "x = 1", "x = 2"))
    assert missing.errors == ["SEARCH block 1: src/calc/nope.py does not exist (files shown: src/calc/core.py); "
                              "to create a file use an empty SEARCH section"]


def test_empty_search_creates_a_new_file_but_never_blanks_an_existing_one() -> None:
    created = apply("src/calc/extra.py\n<<<<<<< SEARCH\n=======\nVALUE = 3\n>>>>>>> REPLACE\n")
    assert created.changes == {"src/calc/extra.py": "VALUE = 3\n"}
    existing = apply("src/calc/util.py\n<<<<<<< SEARCH\n=======\nVALUE = 3\n>>>>>>> REPLACE\n")
    assert "empty SEARCH text" in existing.errors[0]


def test_a_code_block_is_merged_by_definition_keeping_what_it_leaves_out() -> None:
    reply = ("```python\nimport functools\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n\n"
             "class Cart:\n  def count(self, prices):\n    return len(prices)\n\n"
             "def helper():\n    return 2\n\nprint(mean([1, 2]))\nassert mean([2]) == 2\n```")
    result = apply(reply)
    merged = result.changes["src/calc/core.py"]
    assert "def add(a, b):\n    return a - b" in merged  # not in the reply: kept as it was
    assert "def mean(xs):\n    return sum(xs) / len(xs)" in merged
    assert "    def total(self, prices):\n        return sum(prices)" in merged  # other members kept
    assert "    def count(self, prices):\n      return len(prices)" in merged  # re-indented into the class
    assert merged.index("def helper") < merged.index('if __name__ == "__main__"')
    assert merged.startswith("import math\nimport functools\n")
    assert "print(mean" not in merged and "assert mean" not in merged
    assert result.notes == ["src/calc/core.py: added import functools", "src/calc/core.py: replaced mean",
                            "src/calc/core.py: replaced Cart.count", "src/calc/core.py: added helper"]


def test_a_code_block_goes_to_the_shown_file_that_defines_its_names() -> None:
    result = apply("```python\ndef one():\n    return 11\n```", editable=["src/calc/core.py", "src/calc/util.py"])
    assert list(result.changes) == ["src/calc/util.py"]
    named = apply("src/calc/util.py\n```python\ndef one():\n    return 12\n```", editable=["src/calc/core.py"])
    assert named.changes == {"src/calc/util.py": "def one():\n    return 12\n"}


def test_code_that_does_not_parse_or_changes_nothing_is_reported() -> None:
    assert apply("```python\ndef add(a, b):\n    return a - b\n```").changes == {}
    broken = apply("```python\n)(\n```")
    assert broken.changes == {} and "no usable Python" in broken.errors[0]


def test_non_python_files_are_rewritten_whole_only_when_small() -> None:
    files = {"data/config.txt": "a\n", "data/big.txt": "x\n" * 400}
    small = apply("data/config.txt\n```\nb\n```", files, ["data/config.txt"])
    assert small.changes == {"data/config.txt": "b\n"}
    big = apply("data/big.txt\n```\ny\n```", files, ["data/big.txt"])
    assert "too long to rewrite whole" in big.errors[0]


def test_windows_line_endings_are_kept() -> None:
    files = {"w.py": "def f():\r\n    return 1\r\n"}
    result = apply(block("w.py", "    return 1", "    return 2"), files, ["w.py"])
    assert result.changes == {"w.py": "def f():\r\n    return 2\r\n"}


def test_small_model_padding_is_pruned_and_docstrings_are_kept() -> None:
    files = {"s.py": 'import math\n\n\ndef mean(values):\n    """The mean."""\n    return sum(values) // len(values)\n'}
    reply = ("```python\nfrom datetime import timedelta3\nimport math\n\ndef mean(values):\n"
             "    return sum(values) / len(values)\n\ndef mean_mean(values):\n    return mean(values)\n\n"
             "def median(xs):\n    return sorted(xs)[len(xs) // 2]\n\ndef mean_of(values")
    result = apply_reply(reply, read=files.get, protect=lambda p: None, editable=["s.py"], keep={"median"})
    # median is what the tests use; mean_mean and the import of a module that does not exist are padding;
    # the truncated last line is dropped; the docstring the reply left out stays.
    assert result.changes == {"s.py": 'import math\n\n\ndef mean(values):\n    """The mean."""\n'
                                      "    return sum(values) / len(values)\n\n\n"
                                      "def median(xs):\n    return sorted(xs)[len(xs) // 2]\n"}
    unpruned = apply_reply(reply, read=files.get, protect=lambda p: None, editable=["s.py"])
    assert "def mean_mean" in unpruned.changes["s.py"] and "timedelta3" in unpruned.changes["s.py"]


def test_a_method_replied_as_a_bare_function_goes_back_into_its_class() -> None:
    files = {"f.py": "class Functions:\n    def avg(self, xs):\n        return sum(xs) / (len(xs) + 1)\n\n"
                     "    def total(self, xs):\n        return sum(xs)\n"}
    reply = "```python\ndef avg(self, xs):\n    return sum(xs) / len(xs)\n```"
    result = apply_reply(reply, read=files.get, protect=lambda p: None, editable=["f.py"], keep={"search"})
    assert result.errors == [] and result.notes == ["f.py: replaced Functions.avg"]
    assert result.changes["f.py"] == files["f.py"].replace("(len(xs) + 1)", "len(xs)")
