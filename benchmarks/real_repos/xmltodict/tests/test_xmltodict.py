import xmltodict


def test_repeated_elements_become_a_list():
    assert xmltodict.parse("<a><b>1</b><b>2</b></a>") == {"a": {"b": ["1", "2"]}}


def test_whitespace_is_stripped():
    assert xmltodict.parse("<a>  text  </a>") == {"a": "text"}


def test_booleans_are_written_in_lowercase():
    assert xmltodict.unparse({"a": True}, full_document=False) == "<a>true</a>"
    assert xmltodict.unparse({"a": False}, full_document=False) == "<a>false</a>"


def test_force_list():
    assert xmltodict.parse("<a><b>1</b></a>", force_list=("b",)) == {"a": {"b": ["1"]}}
    assert xmltodict.parse("<a><c>1</c></a>", force_list=("b",)) == {"a": {"c": "1"}}
