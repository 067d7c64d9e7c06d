"""Kefu's own NLU components against Rasa's: the sentence featurizer gives
exactly the features of Rasa's regex and count-vector featurizers, and the
linear models (the ensemble with the calibrated SVM included) come back
from their stored arrays predicting what they predicted before they were
stored."""
from pathlib import Path
from typing import List

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from kefu.nlu.features import HashedFeatures, SentenceFeaturizer
from kefu.nlu.linear import LinearIntentClassifier, LinearResponseSelector, sentence_features
from kefu.nlu.tokenizer import HashedToken, KefuTokenizer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [
    ("我的订单2611240000012345到哪了", "check_order_status", None),
    ("快递怎么还没到 单号2611240000054321", "check_order_status", None),
    ("where is my parcel, order 2611240000099999", "check_order_status", None),
    ("my order still hasnt arrived", "check_order_status", None),
    ("索尼耳机多少钱", "ask_product_info", None),
    ("how much is the sony headphones", "ask_product_info", None),
    ("索尼耳机有几种颜色", "ask_product_info", None),
    ("运费多少", "faq", "faq/shipping"),
    ("包邮吗亲", "faq", "faq/shipping"),
    ("is shipping free", "faq", "faq/shipping"),
    ("你们是正品吗", "faq", "faq/genuine"),
    ("are your products genuine", "faq", "faq/genuine"),
    ("是正品吗 保真吗", "faq", "faq/genuine"),
]
UNSEEN = ["订单2611240000077777怎么还没发货", "索尼耳机价格", "包邮不", "genuine or fake??", "hello"]


def context(name: str) -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name=name)


def training_data() -> TrainingData:
    messages = []
    for text, intent, key in EXAMPLES:
        data = {TEXT: text, "intent": intent}
        if key:
            data["intent_response_key"] = key
        messages.append(Message(data=data))
    return TrainingData(
        messages,
        regex_features=[{"name": "order_id", "pattern": r"\d{16}"}],
        lookup_tables=[{"name": "product", "elements": ["索尼耳机", "sony headphones"]}],
        responses={"utter_faq/shipping": [{"text": "满99包邮"}], "utter_faq/genuine": [{"text": "正品"}]},
    )


def tokenized(messages: List[Message]) -> List[Message]:
    config = {**KefuTokenizer.get_default_config(), "dictionary_path": str(ROOT / "data" / "dict")}
    tokenizer = KefuTokenizer.create(config, None, None, context("tokenizer"))  # type: ignore[arg-type]
    return tokenizer.process(messages)


@pytest.fixture()
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def rasa_sentence_features(data: TrainingData, messages: List[Message], storage) -> np.ndarray:
    """What config.yml's pipeline computed before SentenceFeaturizer."""
    components = [
        RegexFeaturizer.create({**RegexFeaturizer.get_default_config(), "case_sensitive": False,
                                "use_word_boundaries": False}, storage, Resource("regex"), context("regex")),
        CountVectorsFeaturizer.create({**CountVectorsFeaturizer.get_default_config(), "analyzer": "word",
                                       "min_ngram": 1, "max_ngram": 2, "min_df": 2},
                                      storage, Resource("words"), context("words")),
        CountVectorsFeaturizer.create({**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb",
                                       "min_ngram": 1, "max_ngram": 4, "min_df": 2},
                                      storage, Resource("chars"), context("chars")),
    ]
    for component in components:
        component.train(data)
        component.process_training_data(data)
        component.process(messages)
    return sentence_features(messages).toarray()


def kefu_sentence_features(data: TrainingData, messages: List[Message], storage) -> np.ndarray:
    config = {**SentenceFeaturizer.get_default_config()}
    resource = Resource("sentence")
    SentenceFeaturizer.create(config, storage, resource, context("sentence")).train(data)
    loaded = SentenceFeaturizer.load(config, storage, resource, context("sentence"))
    loaded.process(messages)
    return sentence_features(messages).toarray()


def test_sentence_features_are_exactly_rasas(storage):
    rasa_data = training_data()
    tokenized(rasa_data.training_examples)
    kefu_data = training_data()
    tokenized(kefu_data.training_examples)
    texts = [text for text, _, _ in EXAMPLES] + UNSEEN
    theirs = rasa_sentence_features(rasa_data, tokenized([Message(data={TEXT: t}) for t in texts]), storage)
    ours = kefu_sentence_features(kefu_data, tokenized([Message(data={TEXT: t}) for t in texts]), storage)
    assert theirs.shape == ours.shape and theirs.shape[1] > 20
    np.testing.assert_array_equal(ours, theirs)
    # the order id and the product are features of the unseen messages too
    assert ours[len(EXAMPLES)][0] == 1.0 and ours[len(EXAMPLES) + 1][1] == 1.0


def test_linear_models_predict_the_same_after_storing(storage):
    data = training_data()
    tokenized(data.training_examples)
    text = {"min_ngram": 1, "max_ngram": 4, "min_df": 2}  # config.yml's: across word boundaries too
    featurizer = SentenceFeaturizer.create({**SentenceFeaturizer.get_default_config(), "text": text}, storage,
                                           Resource("sf"), context("sf"))
    featurizer.train(data)
    featurizer.process_training_data(data)
    # n-grams across jieba's word boundaries (正品 | 吗) are in the text block only
    assert "正品吗" in featurizer.text.vocabulary_  # type: ignore[union-attr]
    assert "正品吗" not in featurizer.char.vocabulary_
    config = {**LinearIntentClassifier.get_default_config(), "C": 30, "margin": {"C": 2, "weight": 0.5}}
    intents = LinearIntentClassifier.create(config, storage, Resource("intents"), context("intents"))
    intents.train(data)
    topics = LinearResponseSelector.create({**LinearResponseSelector.get_default_config(), "C": 30}, storage,
                                           Resource("topics"), context("topics"))
    topics.train(data)

    def parse(intent_model, topic_model) -> list:
        messages = featurizer.process(tokenized([Message(data={TEXT: t}) for t in UNSEEN]))
        topic_model.process(intent_model.process(messages))
        return [(m.get("intent"), m.get("intent_ranking"), m.get("response_selector")) for m in messages]

    assert intents.margin is not None and 0.01 < intents.margin.temperature < 5
    before = parse(intents, topics)
    after = parse(LinearIntentClassifier.load(config, storage, Resource("intents"), context("intents")),
                  LinearResponseSelector.load({"C": 30}, storage, Resource("topics"), context("topics")))
    assert after == before
    assert before[0][0]["name"] == "check_order_status" and before[2][0]["name"] == "faq"
    assert before[2][2]["faq"]["response"]["intent_response_key"] == "faq/shipping"
    # numbers and strings only: nothing in a stored model can run code when it is read
    for resource in ("intents", "topics"):
        with storage.read_from(Resource(resource)) as directory:
            for path in directory.glob("*.npz"):
                with np.load(path, allow_pickle=False) as arrays:
                    assert all(arrays[key].dtype != object for key in arrays.files)


def test_token_fingerprints_are_one_hash_of_their_fields():
    tokens = tokenized([Message(data={TEXT: "索尼耳机多少钱"})])[0].get("text_tokens")
    assert tokens and all(isinstance(token, HashedToken) for token in tokens)
    first = tokens[0]
    same = HashedToken(first.text, first.start, first.end, lemma=first.lemma)
    assert same.fingerprint() == first.fingerprint()
    assert HashedToken(first.text, first.start + 1).fingerprint() != first.fingerprint()
    assert HashedToken(first.text + "x", first.start).fingerprint() != first.fingerprint()


def faq_example() -> Message:
    return Message(data={TEXT: "包邮吗亲", "intent": "faq", "intent_response_key": "faq/shipping",
                         "response": "满99元包邮，偏远地区除外"})


def test_training_tokenizes_only_the_attributes_the_config_names():
    dictionary = {**KefuTokenizer.get_default_config(), "dictionary_path": str(ROOT / "data" / "dict")}
    text_only = KefuTokenizer.create({**dictionary, "training_attributes": ["text"]}, None, None,  # type: ignore
                                     context("text only"))
    every = KefuTokenizer.create(dictionary, None, None, context("every"))  # type: ignore[arg-type]
    cut_text = text_only.process_training_data(TrainingData([faq_example()])).training_examples[0]
    cut_all = every.process_training_data(TrainingData([faq_example()])).training_examples[0]
    assert [t.text for t in cut_text.get("text_tokens")] == [t.text for t in cut_all.get("text_tokens")]
    assert cut_text.get("response_tokens") is None and cut_text.get("intent_tokens") is None
    assert "包邮" in [t.text for t in cut_all.get("response_tokens")]  # Rasa's behaviour by default
    named = KefuTokenizer.create({**dictionary, "training_attributes": ["text", "intent_response_key"]}, None,
                                 None, context("named"))  # type: ignore[arg-type]
    keys = named.process_training_data(TrainingData([faq_example()])).training_examples[0].get(
        "intent_response_key_tokens")
    assert [t.text for t in keys] == [t.text for t in cut_all.get("intent_response_key_tokens")]  # split as Rasa does


def test_tokenizers_with_one_dictionary_share_one_jieba():
    config = {**KefuTokenizer.get_default_config(), "dictionary_path": str(ROOT / "data" / "dict")}
    first = KefuTokenizer.create(config, None, None, context("first"))  # type: ignore[arg-type]
    second = KefuTokenizer.create(config, None, None, context("second"))  # type: ignore[arg-type]
    no_dictionary = KefuTokenizer.create(KefuTokenizer.get_default_config(), None, None,  # type: ignore
                                         context("none"))
    assert first._segmenter is second._segmenter
    assert no_dictionary._segmenter is not first._segmenter
    words = [t.text for t in first.tokenize(Message(data={TEXT: "七天无理由退货可以吗"}), TEXT)]
    without = [t.text for t in no_dictionary.tokenize(Message(data={TEXT: "七天无理由退货可以吗"}), TEXT)]
    assert "七天无理由" in words and "七天无理由" not in without  # the shop's word: one dictionary each


def test_tfidf_weights_are_sklearns():
    from scipy.sparse import random as sparse_random
    from sklearn.feature_extraction.text import TfidfTransformer

    from kefu.nlu.tfidf import Tfidf

    counts = sparse_random(300, 2000, density=0.01, format="csr", random_state=7)
    counts.data = np.ceil(counts.data * 4)  # counts 1..4
    theirs, ours = TfidfTransformer(sublinear_tf=True).fit(counts), Tfidf(sublinear_tf=True).fit(counts)
    np.testing.assert_array_equal(ours.idf_, theirs.idf_)
    for rows in (counts, counts[:1], counts[5:6]):
        mine, sklearns = ours.transform(rows), theirs.transform(rows)
        assert mine.nnz == sklearns.nnz and abs(mine - sklearns).max() < 1e-15
    # a stored idf set on a new transformer (how a model is loaded) is the one used
    loaded = Tfidf(sublinear_tf=True)
    loaded.idf_ = theirs.idf_ * 2
    theirs.idf_ = theirs.idf_ * 2
    assert abs(loaded.transform(counts) - theirs.transform(counts)).max() < 1e-15


def test_feature_fingerprints_are_one_hash_of_the_matrix(storage):
    data = training_data()
    tokenized(data.training_examples)
    featurizer = SentenceFeaturizer.create(SentenceFeaturizer.get_default_config(), storage, Resource("sf"),
                                           context("sf"))
    featurizer.train(data)
    first, again = (featurizer.process(tokenized([Message(data={TEXT: "索尼耳机多少钱"})]))[0] for _ in range(2))
    [features] = first.features
    assert isinstance(features, HashedFeatures) and features.features.nnz > 5
    assert again.features[0].fingerprint() == features.fingerprint()
    assert again.fingerprint() == first.fingerprint()  # what Rasa's training cache compares
    doubled = features.features.copy()
    doubled.data = doubled.data * 2
    moved = features.features.copy()
    moved.col = (moved.col + 1) % moved.shape[1]
    for other in (doubled, moved):
        assert HashedFeatures(other, features.type, features.attribute, features.origin).fingerprint() != \
            features.fingerprint()


def test_a_weighted_pattern_flags_with_its_weight_and_the_others_with_one(storage):
    data = training_data()
    tokenized(data.training_examples)
    config = {**SentenceFeaturizer.get_default_config(), "pattern_weights": {"product": 4}}
    SentenceFeaturizer.create(config, storage, Resource("weighted"), context("weighted")).train(data)
    loaded = SentenceFeaturizer.load(config, storage, Resource("weighted"), context("weighted"))
    [both, neither] = loaded.process(tokenized([Message(data={TEXT: "订单2611240000077777的索尼耳机"}),
                                                Message(data={TEXT: "你好"})]))
    flags = sentence_features([both, neither]).toarray()[:, :2]  # the pattern block comes first: order_id, product
    np.testing.assert_array_equal(flags, [[1.0, 4.0], [0.0, 0.0]])
    with pytest.warns(UserWarning, match="questions"):  # a name the data does not have: said, not ignored
        SentenceFeaturizer.create({**config, "pattern_weights": {"questions": 4}}, storage, Resource("typo"),
                                  context("typo")).train(data)
    for bad in (0, -1, "4"):
        with pytest.raises(ValueError, match="product"):
            SentenceFeaturizer.create({**config, "pattern_weights": {"product": bad}}, storage, Resource("bad"),
                                      context("bad"))


def test_weights_are_stored_in_single_precision_and_as_non_zeros_when_mostly_zero():
    from kefu.nlu.weights import pack, unpack

    rng = np.random.default_rng(3)
    dense = rng.normal(size=(4, 60))
    sparse = dense * (rng.random((4, 60)) < 0.2)
    assert set(pack("coef", dense)) == {"coef"} and pack("coef", dense)["coef"].dtype == np.float32
    assert pack("coef", sparse)["coef.values"].size == np.count_nonzero(sparse)
    for coef in (dense, sparse):
        back = unpack("coef", pack("coef", coef))
        np.testing.assert_array_equal(back, coef.astype(np.float32).astype(np.float64))
        assert back.dtype == np.float64 and back.flags.f_contiguous


def test_the_svm_and_its_temperature_are_the_same_twice():
    from scipy.sparse import random as sparse_random

    from kefu.nlu.margin import MarginModel

    labels = np.array(["a", "b", "c"] * 80)
    counts = sparse_random(240, 300, density=0.03, format="lil", random_state=5)
    some = np.arange(0, 240, 2)  # a word per class, in half of its examples: not separable
    counts[some, np.searchsorted(["a", "b", "c"], labels[some]) * 7] = 2
    counts = counts.tocsr()
    counts.data = np.ceil(counts.data * 3)
    first, second = MarginModel(C=1).fit(counts, labels), MarginModel(C=1).fit(counts, labels)
    assert first.temperature == second.temperature and 0.05 < first.temperature < 4
    np.testing.assert_array_equal(first.coef, second.coef)
