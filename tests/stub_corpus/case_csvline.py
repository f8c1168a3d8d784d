import pytest
from csvline import split_csv_line


def test_plain_fields():
    assert split_csv_line("a,b,c") == ["a", "b", "c"]


def test_quoted_comma():
    line = 'name,"Smith, John",42'
    assert split_csv_line(line) == ["name", "Smith, John", "42"]


def test_escaped_quote():
    assert split_csv_line('"say ""hi""",x') == ['say "hi"', "x"]


def test_empty_fields():
    assert split_csv_line(",,") == ["", "", ""]


def test_custom_delimiter():
    assert split_csv_line("a;b", delimiter=";") == ["a", "b"]


def test_unterminated_quote():
    with pytest.raises(ValueError, match="unterminated"):
        split_csv_line('"abc')


def test_reads_a_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("x,y\n")
    assert split_csv_line(path.read_text().strip()) == ["x", "y"]
