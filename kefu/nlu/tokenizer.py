"""A tokenizer for Chinese, English and the mix of both that shoppers type.

Rasa's JiebaTokenizer hands jieba the whole message, and jieba returns spaces
and punctuation as tokens and splits names such as "AirPods Pro" or
"2611240000012345" where it likes (rasa#7910): entity annotations then fall
between tokens and the featurizers learn from blanks. This tokenizer

1. keeps protected spans whole: the regex entities of ``kefu.nlu.patterns``
   and every dictionary term that contains Latin letters (jieba cannot hold a
   space inside a word, and matches case-sensitively);
2. gives the text between them to a private jieba instance loaded with the
   shop dictionary (global jieba state would leak between models);
3. drops whitespace and punctuation tokens, keeping words, numbers and emoji.

The dictionary files under ``dictionary_path`` are copied into the model, so
a trained model needs nothing from the working tree.

``training_attributes`` names what is tokenized in the training data. Rasa's
tokenizers cut every attribute of an example, the answers of retrieval
intents included: Kefu's 3,278 answer copies hold more characters than all
its examples, and their tokens were then fingerprinted after every pipeline
step, for linear models that read only the shopper's text
(reports/perf/training.md). ``null`` keeps Rasa's behaviour, which DIET and
the ResponseSelector need.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

import jieba
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ACTION_NAME, INTENT, INTENT_RESPONSE_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import get_text_hash

from kefu.nlu.patterns import find_entities, term_regex

logger = logging.getLogger(__name__)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")


def read_dictionary(paths: Iterable[Path]) -> List[Tuple[str, int, Optional[str]]]:
    """Parse jieba user-dictionary files: ``word [freq [tag]]`` per line.

    Unlike jieba's own reader this allows spaces inside the word
    ("AirPods Pro 100 nz"), so frequency and tag are read from the end.
    """
    entries = []
    for path in paths:
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                entries.append(_parse_dictionary_line(line))
    return entries


def _parse_dictionary_line(line: str) -> Tuple[str, int, Optional[str]]:
    parts = line.split()
    tag: Optional[str] = None
    freq = 0
    if len(parts) > 2 and parts[-2].isdigit() and re.fullmatch(r"[a-z]{1,4}", parts[-1]):
        tag = parts.pop()
    if len(parts) > 1 and parts[-1].isdigit():
        freq = int(parts.pop())
    return " ".join(parts), freq, tag


class Segmenter:
    """The tokenizer's logic, free of Rasa, so it can be tested on its own."""

    def __init__(self, dictionary: List[Tuple[str, int, Optional[str]]]) -> None:
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        latin_terms = []
        for word, freq, tag in dictionary:
            if _ASCII_ALNUM.search(word):
                latin_terms.append(word)
            else:
                self._jieba.add_word(word, freq or None, tag)
        # Longest first so "iPhone 15 Pro" wins over "iPhone 15".
        latin_terms.sort(key=len, reverse=True)
        self._term_pattern = (
            re.compile(
                "|".join(term_regex(t) for t in latin_terms), flags=re.IGNORECASE
            )
            if latin_terms
            else None
        )

    def protected_spans(self, text: str) -> List[Tuple[int, int]]:
        """Spans that must come out as single tokens, non-overlapping."""
        spans = [(start, end) for _, start, end in find_entities(text)]
        # every protected term holds a Latin letter or a digit: a message
        # without one skips the catalogue's long alternation
        if self._term_pattern is not None and _ASCII_ALNUM.search(text):
            spans += [m.span() for m in self._term_pattern.finditer(text)]
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        kept: List[Tuple[int, int]] = []
        for start, end in spans:
            if not kept or start >= kept[-1][1]:
                kept.append((start, end))
        return kept

    def segment(self, text: str) -> List[Tuple[str, int]]:
        """``(word, start)`` pairs in text order."""
        words: List[Tuple[str, int]] = []
        cursor = 0
        for start, end in self.protected_spans(text):
            words += self._cut(text[cursor:start], cursor)
            words.append((text[start:end], start))
            cursor = end
        words += self._cut(text[cursor:], cursor)
        return words

    def _cut(self, chunk: str, offset: int) -> List[Tuple[str, int]]:
        if not chunk.strip():
            return []
        return [
            (word, offset + start)
            for word, start, _ in self._jieba.tokenize(chunk)
            if _is_content(word)
        ]


@lru_cache(maxsize=4)
def shared_segmenter(dictionary: Tuple[Tuple[str, int, Optional[str]], ...]) -> Segmenter:
    """One :class:`Segmenter` per dictionary in a process. Loading jieba's
    prefix dictionary takes most of a second, and a training builds the
    tokenizer twice (the node that trains it and the node that runs it);
    a segmenter only reads its jieba instance once built, so both can
    share one."""
    return Segmenter(list(dictionary))


def _is_content(word: str) -> bool:
    """Words, numbers and emoji count; blanks and punctuation do not."""
    return any(
        ch.isalnum() or unicodedata.category(ch) == "So" for ch in word
    )


class HashedToken(Token):
    """A token whose fingerprint is one hash of its fields.

    During training Rasa fingerprints every message after every pipeline
    step, to know what its cache may skip next time; its generic
    ``deep_container_fingerprint`` hashes each field of each token apart and
    then the list of hashes, which made fingerprinting tokens a tenth of
    ``make train`` (reports/perf/). One hash of the same fields tells two
    tokens apart just as well.
    """

    def fingerprint(self) -> Text:
        return get_text_hash(json.dumps([self.text, self.start, self.end, self.lemma, self.data],
                                        sort_keys=True, ensure_ascii=False, default=str))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True
)
class KefuTokenizer(Tokenizer):
    """Rasa component around :class:`Segmenter`."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "dictionary_path": None,
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # what to tokenize in the training data; null: every attribute, as Rasa does
            "training_attributes": None,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["jieba"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        dictionary_files: List[Path],
    ) -> None:
        super().__init__(config)
        self._model_storage = model_storage
        self._resource = resource
        self._dictionary_files = dictionary_files
        self._segmenter = shared_segmenter(tuple(read_dictionary(dictionary_files)))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "KefuTokenizer":
        path = config.get("dictionary_path")
        files = sorted(Path(path).glob("*.txt")) if path else []
        return cls(config, model_storage, resource, files)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "KefuTokenizer":
        try:
            with model_storage.read_from(resource) as directory:
                # Read the words now: the directory is only valid inside `with`.
                tokenizer = cls(
                    config, model_storage, resource, sorted(directory.glob("*.txt"))
                )
        except ValueError:
            logger.debug("No dictionary stored for %s.", resource.name)
            tokenizer = cls(config, model_storage, resource, [])
        return tokenizer

    def train(self, training_data: TrainingData) -> Resource:
        """Store the dictionary in the model so it loads without `data/`."""
        with self._model_storage.write_to(self._resource) as directory:
            for file in self._dictionary_files:
                shutil.copy2(file, directory / file.name)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Tokenize the ``training_attributes`` of the examples (see the module's docstring)."""
        attributes = self._config.get("training_attributes")
        if attributes is None:
            return super().process_training_data(training_data)
        for example in training_data.training_examples:
            for attribute in attributes:
                if not example.get(attribute):
                    continue
                names = attribute in (INTENT, ACTION_NAME, INTENT_RESPONSE_KEY)  # split, as Rasa does
                tokens = self._split_name(example, attribute) if names else self.tokenize(example, attribute)
                example.set(TOKENS_NAMES[attribute], tokens)
        return training_data

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute) or ""
        words = self._segmenter.segment(text)
        if not words and text.strip():
            # A message of only punctuation ("？？？") still needs one token.
            words = [(text.strip(), text.index(text.strip()))]
        return self._apply_token_pattern([HashedToken(w, s) for w, s in words])
