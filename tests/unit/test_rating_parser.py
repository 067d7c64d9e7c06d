import pytest

from actions.satisfaction import parse_rating, split_rating


@pytest.mark.parametrize(
    "text, score",
    [
        ("5", 5), ("4分", 4), ("五星好评", 5), ("三颗星", 3), ("非常满意", 5), ("非常不满意", 1),
        ("不满意", 2), ("还行吧", 3), ("good", 4), ("very poor", 1), ("打个3分吧", 3),
        ("下次再说", None), ("12345", None), ("", None), ("6分", None),
    ],
)
def test_parse_rating(text, score):
    assert parse_rating(text) == score


def test_split_rating_keeps_the_comment():
    assert split_rating("4分 物流有点慢", None) == (4, "物流有点慢")
    assert split_rating("5", None) == (5, None)
    assert split_rating("4, quick and easy", None) == (4, "quick and easy")


def test_button_entity_wins_over_text():
    assert split_rating('/inform{"rating": "2"}', "2") == (2, None)
    assert split_rating("whatever", "9") == (None, None)
