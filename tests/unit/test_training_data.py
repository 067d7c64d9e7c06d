"""The training data keeps the promises of docs/training-data.md: the exact
intents, enough examples per language, FAQ answers in both languages, and
generated files in step with the catalogue."""
import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from kefu.core.names import CONNECTOR_INTENTS
from kefu.nlu import lookup

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
INTENTS = [
    "greet", "goodbye", "thanks", "affirm", "deny", "bot_challenge", "inform",
    "ask_product_info", "ask_price_discount", "ask_stock", "ask_shipping_time",
    "check_order_status", "cancel_order", "change_order_address", "payment_problem",
    "request_invoice", "request_return", "request_exchange", "request_refund",
    "ask_warranty_repair", "complain", "request_human", "account_problem", "out_of_scope",
    "opt_out", "opt_in", "leave_message", "show_record",
]
PLACEHOLDER = re.compile(r"\{\w+\}")
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\(([^)]+)\)|\{([^}]+)\})")


def load_nlu():
    examples = defaultdict(list)  # full intent name -> example texts
    responses = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in content.get("nlu", []):
            if "intent" in block:
                for line in block["examples"].splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        examples[block["intent"]].append(line[2:])
        responses.update(content.get("responses", {}))
    return examples, responses


EXAMPLES, FAQ_RESPONSES = load_nlu()
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def base(intent: str) -> str:
    return intent.split("/")[0]


def test_intents_are_exactly_the_agreed_ones():
    """Every intent has examples but those only a connector says (never typed)."""
    domain_intents = set(DOMAIN["intents"]) - {"faq"} - set(CONNECTOR_INTENTS)
    assert domain_intents == set(INTENTS)
    assert {base(i) for i in EXAMPLES} == set(INTENTS) | {"faq"}


#: the closed intents: fewer ways to say them
SMALL = {"goodbye", "affirm", "deny"}
#: order news off and on, a message instead of waiting, the service record: the exact words (退订,
#: stop, 留言, 服务记录) are decided by kefu.nlu.keywords, the examples teach the paraphrases
KEYWORD = {"opt_out", "opt_in", "leave_message", "show_record"}


@pytest.mark.parametrize("intent", INTENTS + ["faq"])
def test_enough_examples_per_language(intent):
    texts = [t for name, ts in EXAMPLES.items() if base(name) == intent for t in ts]
    chinese = [t for t in texts if CJK.search(t)]
    english = [t for t in texts if not CJK.search(t)]
    least_zh, least_en = (120, 65) if intent in SMALL else (14, 10) if intent in KEYWORD else (150, 80)
    assert len(chinese) >= least_zh, f"{intent}: {len(chinese)} Chinese examples"
    assert len(english) >= least_en, f"{intent}: {len(english)} English examples"


@pytest.mark.parametrize("topic", sorted(name for name in EXAMPLES if "/" in name))
def test_enough_examples_per_topic(topic):
    chinese = [t for t in EXAMPLES[topic] if CJK.search(t)]
    assert len(chinese) >= 15 and len(EXAMPLES[topic]) - len(chinese) >= 8, topic


def test_the_held_out_test_set_is_never_trained_on():
    """tests/nlu/ measures how Kefu generalises: none of its messages may be
    a training example (compared without spaces, case or punctuation), but
    for a few words anyone would write the same ("hello", "在吗")."""
    def norm(text: str) -> str:
        return re.sub(r"[\W_]+", "", ANNOTATION.sub(lambda m: m.group(1), text)).lower()

    trained = {norm(t) for texts in EXAMPLES.values() for t in texts}
    leaked = []
    for path in sorted((ROOT / "tests" / "nlu").glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            leaked += [line[2:] for line in block["examples"].splitlines()
                       if line.strip().startswith("- ") and norm(line.strip()[2:]) in trained
                       and len(norm(line)) > (3 if CJK.search(line) else 8)]
    assert not leaked, f"{len(leaked)} test messages are training examples: {leaked[:10]}"


def test_no_example_is_used_twice():
    seen = {}
    for intent, texts in EXAMPLES.items():
        for text in texts:
            key = text.strip().lower()
            assert key not in seen, f"'{text}' in {intent} and {seen[key]}"
            seen[key] = intent


def test_at_least_25_faq_topics_each_answered_in_both_languages():
    topics = [name for name in EXAMPLES if "/" in name and name != "request_return/apply"]
    assert len(topics) >= 25
    for topic in [name for name in EXAMPLES if "/" in name]:
        variations = FAQ_RESPONSES.get(f"utter_{topic}")
        assert variations, f"no answer for {topic}"
        assert_bilingual(f"utter_{topic}", variations)


def layout(text: str) -> bool:
    return bool(PLACEHOLDER.search(text)) and not re.search(r"\w", PLACEHOLDER.sub("", text))


def assert_bilingual(name, variations):
    default = [v for v in variations if not v.get("condition")]
    english = [v for v in variations if v.get("condition")]
    # A response that is only placeholders (and punctuation around them)
    # lays out text an action composed in the shopper's language already.
    assert default and all(CJK.search(v["text"]) or layout(v["text"]) for v in default), \
        f"{name}: Chinese default missing"
    assert english, f"{name}: English variation missing"
    for variation in english:
        assert variation["condition"] == [{"type": "slot", "name": "language", "value": "en"}], name
        assert not CJK.search(variation["text"]) or "{" in variation["text"], f"{name}: English text has Chinese"


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_every_domain_response_is_bilingual(name):
    assert_bilingual(name, DOMAIN["responses"][name])


def test_product_annotations_are_catalogue_terms():
    terms = {t.lower() for name, syns in lookup.product_terms(lookup.load_catalog()).items() for t in [name, *syns]}
    for intent, texts in EXAMPLES.items():
        for text in texts:
            for value, plain, meta in ANNOTATION.findall(text):
                entity = plain or re.search(r'"entity"\s*:\s*"([^"]+)"', meta).group(1)
                if entity == "product":
                    assert value.lower() in terms, f"{intent}: '{value}' is not in the catalogue"


def test_generated_files_are_up_to_date():
    for path, content in lookup.outputs().items():
        assert path.read_text(encoding="utf-8") == content, f"{path} is stale: run make lookup"


def test_other_services_are_named_whole_and_the_shops_own_never():
    regex = re.compile(lookup.other_service_regex(lookup.other_service_names()), re.IGNORECASE)
    named = ["美团外卖少送了一份", "my Swiggy order is late", "booked on MakeMyTrip", "12306买不到票", "uber charged"]
    for text in named:
        assert regex.search(text), text
    # inside a longer word, or the shop's own marketplaces, payments and couriers
    ours = ["a potato tuber", "hola amigo", "淘宝下的单", "支付宝付款失败", "顺丰到哪了", "京东物流", "paid with paytm",
            "订单2611240000123060"]
    for text in ours:
        assert not regex.search(text), text


def load_regexes() -> dict:
    """data/nlu's regexes by name, compiled as the pipeline does (any case)."""
    regexes = defaultdict(list)
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "regex" in block:
                regexes[block["regex"]] += [re.compile(line.strip()[2:], re.IGNORECASE)
                                            for line in block["examples"].splitlines() if line.strip()]
    return regexes


REGEXES = load_regexes()


@pytest.mark.parametrize("cue, says, does_not", [
    ("question", ["这款有白色吗", "运费多少", "is it waterproof", "Do you ship to Penang", "what about the blue one"],
     ["电动牙刷 樱花粉", "silk dress size 6", "帮我取消订单", "this is broken"]),
    ("request", ["帮我查一下", "我要退货", "I want a refund", "pls cancel it"], ["好的", "thanks", "到哪了"]),
    ("upset", ["气死了 什么破快递", "太差了！！", "worst service ever", "this is a SCAM"], ["还没到吗", "where is it"]),
    ("babble", ["啊吧啊吧啊吧", "mmmmmm", "lalalala", "哈哈哈"], ["嗯嗯", "好的好的", "ok", "hello"]),
    ("short", ["好的", "ok", "张三", "hi"], ["帮我查下订单", "where is my order"]),
    ("long", ["上周买的电饭煲今天才到 打开一看内胆有个大凹痕 客服一直不回消息 "
              "快递员态度也差 我现在就要一个说法 不然投诉"], ["我的快递到哪了"]),
    ("greeting_first", ["你好 我的快递怎么还没到", "hello, the parcel you promised for today never came",
                        "亲，能开发票吗"],
     ["你好", "hello there", "hi!!", "在吗 在吗"]),
    ("world_topic", ["明天天气怎么样", "腾讯股价现在多少", "申根签证要多久", "颈椎疼怎么办", "is it raining in pune",
                     "nvidia share price"],
     ["下雨天快递会晚吗", "送女朋友的礼物", "can i pay with visa", "deliver before christmas", "血压计有货吗",
      "is this in stock", "话说这款手机怎么样"]),
])
def test_cues_say_what_a_message_does(cue, says, does_not):
    patterns = REGEXES[cue]
    for text in says:
        assert any(p.search(text) for p in patterns), (cue, text)
    for text in does_not:
        assert not any(p.search(text) for p in patterns), (cue, text)


def test_every_weighted_pattern_of_the_config_is_in_the_data():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    [featurizer] = [c for c in config["pipeline"] if c["name"].endswith("SentenceFeaturizer")]
    assert set(featurizer["pattern_weights"]) <= set(REGEXES), set(featurizer["pattern_weights"]) - set(REGEXES)
