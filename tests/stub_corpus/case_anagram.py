from anagram import are_anagrams, group_anagrams


def test_simple_anagrams():
    assert are_anagrams("listen", "silent")


def test_not_anagrams():
    assert not are_anagrams("apple", "paddle")


def test_case_and_spaces_ignored():
    assert are_anagrams("Dormitory", "dirty room")


def test_a_word_is_an_anagram_of_itself():
    word = "stone"
    assert are_anagrams(word, word)


def test_groups():
    groups = group_anagrams(["eat", "tea", "tan", "ate", "nat", "bat"])
    assert ["eat", "tea", "ate"] in groups
    assert ["bat"] in groups
    assert len(groups) == 3


def test_no_words():
    assert group_anagrams([]) == []
