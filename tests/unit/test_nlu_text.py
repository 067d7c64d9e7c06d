"""The tokenizer, entity patterns and language detection on the text
shoppers actually type: Chinese, English, mixed, emoji, ids."""
from pathlib import Path

import pytest

from actions.language import detect_language
from kefu.nlu.patterns import extract_last4, find_entities, match_entity
from kefu.nlu.tokenizer import Segmenter, read_dictionary

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter(read_dictionary(sorted((ROOT / "data" / "dict").glob("*.txt"))))


def words(segmenter: Segmenter, text: str) -> list:
    return [w for w, _ in segmenter.segment(text)]


def test_order_id_and_emoji_survive_in_chinese_text(segmenter):
    tokens = segmenter.segment("亲 在吗？我的订单2611240000012345咋还没发货😭")
    texts = [w for w, _ in tokens]
    assert "2611240000012345" in texts
    assert "😭" in texts
    assert "发货" in texts
    # offsets point at the words in the original text
    text = "亲 在吗？我的订单2611240000012345咋还没发货😭"
    assert all(text[s : s + len(w)] == w for w, s in tokens)


def test_no_blank_or_punctuation_tokens(segmenter):
    texts = words(segmenter, "hi!!  where is   my order ??? 。。。")
    assert texts == ["hi", "where", "is", "my", "order"]


def test_multiword_product_names_stay_whole_in_any_case(segmenter):
    assert "airpods pro" in words(segmenter, "这个airpods pro有货吗")
    assert "AirPods Pro" in words(segmenter, "AirPods Pro多少钱")
    assert "耐克Air Force 1" in words(segmenter, "耐克Air Force 1还有42码吗")


def test_product_names_do_not_match_inside_words(segmenter):
    assert "rice" not in words(segmenter, "what is the price")
    assert "dress" not in words(segmenter, "change my address please")


def test_shop_words_are_one_token(segmenter):
    texts = words(segmenter, "七天无理由退货运费险怎么算，包邮吗")
    assert {"七天无理由", "运费险", "包邮"} <= set(texts)


def test_only_punctuation_gives_no_words(segmenter):
    assert segmenter.segment("？？？") == []

