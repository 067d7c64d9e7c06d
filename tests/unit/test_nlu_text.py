"""The tokenizer, entity patterns and language detection on the text
shoppers actually type: Chinese, English, mixed, emoji, ids."""
from pathlib import Path

import pytest

from kefu.nlu.language import decisive_language, detect_language
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


@pytest.mark.parametrize(
    "text, expected",
    [
        ("订单2611240000012345", [("order_id", "2611240000012345")]),
        ("手机13812345678", [("phone", "13812345678")]),
        ("写信到 li.lei@example.com 吧", [("email", "li.lei@example.com")]),
        ("工单tk00001234进度", [("ticket_id", "tk00001234")]),
        ("售后单AS00000042", [("aftersale_id", "AS00000042")]),
        # 17 digits is neither an order id nor a phone
        ("26112400000123456", []),
    ],
)
def test_entity_patterns(text, expected):
    assert [(name, text[s:e]) for name, s, e in find_entities(text)] == expected


def test_match_entity_normalises_ids():
    assert match_entity("ticket_id", "tk00001234") == "TK00001234"
    assert match_entity("order_id", "no id here") is None


@pytest.mark.parametrize(
    "text, expected",
    [("尾号5678", "5678"), ("last 4 digits are 1234", "1234"), ("5678", "5678"), ("56789", None), ("12 34", None),
     ("", None), ("５６７８", "5678"), ("尾号５６７８", "5678")],
)
def test_extract_last4(text, expected):
    assert extract_last4(text) == expected


@pytest.mark.parametrize(
    "text, current, expected",
    [
        ("你好", None, "zh"),
        ("where is my order", None, "en"),
        ("where is my order", "zh", "en"),
        ("order咋还没到", "en", "zh"),
        ("ok", "en", "en"),
        ("ok", "zh", "zh"),
        ("5678", "en", "en"),
        ("/affirm", "en", "en"),
        ("refund", "zh", "en"),
        ("hi", None, "en"),
        ("hello", "zh", "en"),
        ("", None, "zh"),
    ],
)
def test_detect_language(text, current, expected):
    assert detect_language(text, current) == expected


@pytest.mark.parametrize(
    "text, expected", [("hi", "en"), ("我要退货", "zh"), ("ok", None), ("1234", None), ("/affirm", None)]
)
def test_language_entity_only_for_decisive_messages(text, expected):
    """The `language` slot maps from this entity: no entity keeps the slot."""
    from rasa.shared.nlu.training_data.message import Message

    from kefu.nlu.language import LanguageExtractor

    [message] = LanguageExtractor().process([Message(data={"text": text})])
    found = [e["value"] for e in message.get("entities", []) if e["entity"] == "language"]
    assert found == ([expected] if expected else [])
    assert decisive_language(text) == expected
