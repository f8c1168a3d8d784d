from minitools import plural


def test_regular():
    assert plural("cat") == "cats"


def test_sibilants_take_es():
    assert plural("box") == "boxes"
    assert plural("church") == "churches"


def test_consonant_y():
    assert plural("city") == "cities"
    assert plural("day") == "days"
