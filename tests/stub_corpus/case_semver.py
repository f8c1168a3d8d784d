import pytest
from semver import compare, parse


class TestParse:
    def test_three_parts(self):
        assert parse("1.2.3") == (1, 2, 3)

    def test_leading_v(self):
        assert parse("v0.10.0") == (0, 10, 0)

    def test_garbage(self):
        with pytest.raises(ValueError, match="not a version"):
            parse("1.2")


class TestCompare:
    def test_equal(self):
        assert compare("1.2.3", "1.2.3") == 0

    def test_older(self):
        assert compare("1.2.3", "1.10.0") == -1

    def test_newer(self):
        assert compare("2.0.0", "1.99.99") == 1

    def test_numeric_not_lexical(self):
        assert compare("0.9.0", "0.10.0") < 0
