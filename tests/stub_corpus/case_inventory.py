import pytest
from inventory import parse_inventory, restock_list


class TestParse:
    @pytest.fixture
    def lines(self):
        return ["apples: 3", "pears:0", "  plums : 12 "]

    def test_parses_counts(self, lines):
        assert parse_inventory(lines) == {"apples": 3, "pears": 0, "plums": 12}

    def test_skips_blank_lines(self):
        assert parse_inventory(["", "figs: 1", "   "]) == {"figs": 1}

    def test_bad_line(self):
        with pytest.raises(ValueError, match="line 1"):
            parse_inventory(["apples three"])


class TestRestock:
    def test_below_threshold(self):
        stock = {"apples": 3, "pears": 0, "plums": 12}
        assert restock_list(stock, threshold=5) == ["apples", "pears"]

    def test_nothing_to_restock(self):
        assert restock_list({"kiwi": 9}, threshold=5) == []
