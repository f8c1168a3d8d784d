from rle import decode, encode


def test_encode_long_run():
    s = "x" * 12 + "y"
    assert encode(s) == "12x1y"


def test_encode_mixed():
    text = "aaabccdddd"
    result = encode(text)
    assert result == "3a1b2c4d"


def test_encode_empty():
    assert encode("") == ""


def test_decode():
    assert decode("3a1b") == "aaab"
    assert decode("10z") == "z" * 10


def test_roundtrip():
    original = "wwwwbbbw"
    assert decode(encode(original)) == original
