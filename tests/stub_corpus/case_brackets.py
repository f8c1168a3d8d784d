from brackets import balanced


def test_empty_string_is_balanced():
    assert balanced("")


def test_simple_pairs():
    assert balanced("()")
    assert balanced("[]{}")
    assert balanced("{[()]}")


def test_mismatched():
    assert not balanced("(]")
    assert not balanced("([)]")


def test_unclosed_and_unopened():
    assert not balanced("((")
    assert not balanced("))")


def test_other_characters_are_ignored():
    assert balanced("f(a[1]) + {x: y}")
