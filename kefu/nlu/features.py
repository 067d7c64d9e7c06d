"""One featurizer for Kefu's linear models: the sentence features of a
message's text, computed for a whole batch at once.

Kefu's intent and topic classifiers (``kefu/nlu/linear.py``) read sentence
features only: which pattern entities and catalogue names occur, and counts
of word and character n-grams. Rasa's ``RegexFeaturizer`` and two
``CountVectorsFeaturizer`` produced them, but each of those also builds a
matrix per token (nothing here reads it), transforms one message at a time,
and hands the whole training set on to the next node, where Rasa's training
cache fingerprints every message, token and matrix again: two thirds of a
data-only retrain went there (reports/perf/). This component computes the
same three blocks in one pass over the batch and attaches one sparse row per
message.

The features are Rasa's own: tokens (their lemma) with numbers replaced by
``__NUMBER__`` and lower-cased, joined by spaces; word n-grams over Rasa's
``(?u)\\b\\w+\\b`` token pattern and ``char_wb`` n-grams, each keeping the
n-grams seen in at least ``min_df`` training messages; one 0/1 column per
regex and lookup table of the training data that matches the text.

``pattern_weights`` gives a pattern's column another value than 1 when
it matches (``{other_service: 4}``): one regex that names a whole kind of
message (another company's service, a question, a topic no shop serves,
data/nlu/cues.yml) then weighs more against the many n-grams the
message shares with the shop's own intents, which cross-validation showed
it too weak to do at 1 (reports/nlu/).

With ``text`` set, a fourth block: character n-grams of the message as
written (lower-cased, every digit a 0), across word boundaries. jieba
splits Chinese into words, sometimes differently in two phrasings of one
request, and ``char_wb`` n-grams stop at those boundaries; these do not.
Cross-validation chose it (reports/nlu/).
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.nlu.utils import pattern_utils
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT, TEXT_TOKENS
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import deep_container_fingerprint, raise_warning
from scipy.sparse import coo_matrix, csr_matrix, hstack
from sklearn.feature_extraction.text import CountVectorizer

NUMBER = re.compile(r"\b[0-9]+\b")
DIGIT = re.compile(r"[0-9]")
FILE = "sentence_features.json"


class HashedFeatures(Features):
    """Sparse features whose fingerprint is one hash of the matrix's arrays.

    Rasa's training cache fingerprints the featurized training set after
    the featurizer and before each component that reads it; for a sparse
    matrix ``Features.fingerprint`` formats every non-zero as a line of text
    first, a few seconds per retrain for Kefu's fourteen thousand examples
    (py-spy of ``make train``). Hashing the matrix's coordinates and values
    as bytes tells two matrices apart just as well, like
    ``kefu.nlu.tokenizer.HashedToken`` for tokens.
    """

    _cached_fingerprint: Optional[Text]  # Rasa's, reset by Rasa when the features change

    def fingerprint(self) -> Text:
        if self._cached_fingerprint is None:
            matrix = self.features.tocoo()
            digest = hashlib.blake2b(digest_size=16)
            for part in (np.asarray(matrix.shape, dtype=np.int64), matrix.row.astype(np.int64),
                         matrix.col.astype(np.int64), matrix.data.astype(np.float64)):
                digest.update(part.tobytes())
            self._cached_fingerprint = deep_container_fingerprint(
                [self.type, self.origin, self.attribute, digest.hexdigest()])
        return self._cached_fingerprint


def row_of(matrix: csr_matrix, row: int) -> coo_matrix:
    """One row of ``matrix`` as a one-row matrix, straight from its arrays:
    half the time of ``getrow`` and a conversion, which is paid for each of
    the training set's examples."""
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return coo_matrix((matrix.data[start:end], (np.zeros(end - start, dtype=np.int32), matrix.indices[start:end])),
                      shape=(1, matrix.shape[1]))


def token_text(message: Message) -> str:
    """The message's tokens as Rasa's count vectors read them."""
    tokens = message.get(TEXT_TOKENS) or []
    return " ".join(NUMBER.sub("__NUMBER__", token.lemma).lower() for token in tokens)


def raw_text(message: Message) -> str:
    """The message as written, for the ``text`` block."""
    return DIGIT.sub("0", str(message.get(TEXT) or "").lower())


def vectorizer(analyzer: str, settings: Dict[str, Any], vocabulary: Optional[Dict[str, int]] = None) -> CountVectorizer:
    return CountVectorizer(analyzer=analyzer, token_pattern=r"(?u)\b\w+\b" if analyzer == "word" else None,
                           lowercase=True, ngram_range=(settings["min_ngram"], settings["max_ngram"]),
                           min_df=settings["min_df"], vocabulary=vocabulary, dtype=np.float64)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceFeaturizer(SparseFeaturizer, GraphComponent):
    """Pattern flags, word n-grams and character n-grams of the text, as one
    sparse sentence feature per message."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**SparseFeaturizer.get_default_config(),
                "word": {"min_ngram": 1, "max_ngram": 2, "min_df": 2},
                "char": {"min_ngram": 1, "max_ngram": 4, "min_df": 2},
                "text": None, "patterns": True, "pattern_weights": {}, "case_sensitive": False}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, state: Optional[Dict[str, Any]] = None) -> None:
        defaults = self.get_default_config()
        config = {**defaults, **config, **{block: {**defaults[block], **(config.get(block) or {})}
                                           for block in ("word", "char")}}
        if config.get("text"):
            config["text"] = {**defaults["char"], **config["text"]}
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        state = state or {}
        self.patterns: List[Dict[str, str]] = state.get("patterns", [])
        self.word = vectorizer("word", self._config["word"], state.get("word"))
        self.char = vectorizer("char_wb", self._config["char"], state.get("char"))
        self.text = vectorizer("char", self._config["text"], state.get("text")) if self._config["text"] else None
        self._compiled = self._compile()

    def _compile(self) -> List[Tuple[re.Pattern, float]]:
        """Each pattern and the value of its column when it matches."""
        flags = 0 if self._config["case_sensitive"] else re.IGNORECASE
        weights = self._config["pattern_weights"] or {}
        return [(re.compile(p["pattern"], flags), float(weights.get(p["name"], 1.0))) for p in self.patterns]

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceFeaturizer":
        return cls(config, model_storage, resource, execution_context)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.training_examples if m.get(TEXT) and m.get(TEXT_TOKENS)]
        texts = [token_text(m) for m in examples]
        if not texts:
            return self._resource
        self.word.fit(texts)
        self.char.fit(texts)
        if self.text is not None:
            self.text.fit([raw_text(m) for m in examples])
        if self._config["patterns"]:
            self.patterns = pattern_utils.extract_patterns(training_data, use_lookup_tables=True, use_regexes=True,
                                                           use_only_entities=False, use_word_boundaries=False)
            self._compiled = self._compile()
            unknown = sorted(set(self._config["pattern_weights"] or {}) - {p["name"] for p in self.patterns})
            if unknown:  # a trainer's typo would otherwise weigh nothing, silently
                raise_warning(f"{type(self).__name__}: pattern_weights names no regex or lookup table of the "
                              f"training data: {', '.join(unknown)}")
        with self._model_storage.write_to(self._resource) as directory:
            (directory / FILE).write_text(json.dumps({
                "patterns": self.patterns,
                "word": {k: int(v) for k, v in self.word.vocabulary_.items()},
                "char": {k: int(v) for k, v in self.char.vocabulary_.items()},
                "text": {k: int(v) for k, v in self.text.vocabulary_.items()} if self.text is not None else None,
            }, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SentenceFeaturizer":
        try:
            with model_storage.read_from(resource) as directory:
                state = json.loads((directory / FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            state = None  # not trained: features of nothing, as Rasa's featurizers do
        return cls(config, model_storage, resource, execution_context, state)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        with_text = [m for m in messages if m.get(TEXT) and m.get(TEXT_TOKENS)]
        trained = hasattr(self.word, "vocabulary_") or self.word.vocabulary is not None
        if not with_text or not trained:
            return messages
        rows = self._features(with_text)
        for row, message in enumerate(with_text):
            message.add_features(HashedFeatures(row_of(rows, row), FEATURE_TYPE_SENTENCE, TEXT, self._identifier))
        return messages

    def _features(self, messages: List[Message]) -> csr_matrix:
        texts = [token_text(m) for m in messages]
        flags = np.array([[weight if pattern.search(m.get(TEXT)) else 0.0 for pattern, weight in self._compiled]
                          for m in messages]).reshape(len(messages), len(self._compiled))
        blocks = [csr_matrix(flags), self.word.transform(texts), self.char.transform(texts)]
        if self.text is not None:
            blocks.append(self.text.transform([raw_text(m) for m in messages]))
        return hstack(blocks).tocsr()

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        for block in ("word", "char", "text"):
            settings = config.get(block)
            if settings and settings["min_ngram"] > settings["max_ngram"]:
                raise ValueError(f"{cls.__name__}: {block} min_ngram is above max_ngram")
        for name, weight in (config.get("pattern_weights") or {}).items():
            if not isinstance(weight, (int, float)) or weight <= 0:
                raise ValueError(f"{cls.__name__}: the weight of pattern {name!r} must be a number above 0")
