import jmespath


def test_avg():
    assert jmespath.search("avg(@)", [1, 2, 3, 6]) == 3


def test_starts_with():
    assert jmespath.search("starts_with(@, 'foo')", "foobar") is True
    assert jmespath.search("starts_with(@, 'bar')", "foobar") is False


def test_index():
    assert jmespath.search("a[0]", {"a": ["x", "y", "z"]}) == "x"
    assert jmespath.search("a[-1]", {"a": ["x", "y", "z"]}) == "z"


def test_field():
    assert jmespath.search("a.b", {"a": {"b": 1}}) == 1
