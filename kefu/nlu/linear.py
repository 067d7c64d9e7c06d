"""Linear models over Kefu's sparse features: intents, and the answer of a
retrieval intent.

Kefu's messages are short and its features are word and character n-grams
plus the regex features of order ids and products (``kefu/nlu/features.py``).
On such features a regularised logistic regression is as accurate as DIET
here (reports/nlu/), trains in seconds instead of minutes, answers in well
under a millisecond, and its probabilities are close to calibrated, which
matters because the fallback decides on them.

* :class:`LinearIntentClassifier` is Rasa's own ``LogisticRegressionClassifier``
  with the regularisation (``C``) and a calibration temperature chosen on
  held-out data instead of fixed, optionally averaged with a calibrated
  linear SVM (kefu/nlu/margin.py: the ensemble), and optionally blended
  with the ranking of a classifier earlier in the pipeline.
* :class:`LinearResponseSelector` replaces one ``ResponseSelector`` per
  retrieval intent: one small model per retrieval intent over its topics, run
  only for the intent the message was classified as (five TensorFlow models
  ran on every message before, whatever its intent). Its output has the shape
  of Rasa's, so ``utter_faq`` & co. and ``action_route_request`` read it as
  they always did.

Both store their models as plain arrays (``model_arrays``), not pickles.
"""
from __future__ import annotations

import json
import logging
import warnings
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from kefu.nlu.margin import MarginModel
from kefu.nlu.tfidf import Tfidf
from kefu.nlu.weights import pack, unpack

logger = logging.getLogger(__name__)

RESPONSE_SELECTOR = "response_selector"
#: the layout of the stored models; a new value makes Rasa's training cache
#: retrain instead of handing back a directory in an older layout
MODEL_FORMAT = 3


def model_arrays(model: Any) -> Dict[str, np.ndarray]:
    """What a fitted TF-IDF + logistic regression predicts with, as plain
    arrays: stored with ``allow_pickle=False``, a model file can hold numbers
    and strings only, never code (pickle-based formats run what they load),
    and reading it needs no serialisation library."""
    steps = [step for _, step in model.steps] if hasattr(model, "steps") else [model]
    arrays: Dict[str, np.ndarray] = {}
    for step in steps:
        if isinstance(step, TfidfTransformer):
            arrays["idf"] = np.asarray(step.idf_, dtype=np.float32)
        else:
            arrays.update(pack("coef", step.coef_), intercept=step.intercept_,
                          classes=np.asarray([str(c) for c in step.classes_]))
    return arrays


def model_from_arrays(arrays: Dict[str, np.ndarray], config: Dict[Text, Any]) -> Any:
    """The model :func:`model_arrays` took apart, ready to predict."""
    model = logistic_regression({**config, "tfidf": "idf" in arrays})
    classifier = model.steps[-1][1] if hasattr(model, "steps") else model
    classifier.coef_, classifier.intercept_, classifier.classes_ = (
        unpack("coef", arrays), arrays["intercept"], arrays["classes"])
    if "idf" in arrays:
        model.steps[0][1].idf_ = arrays["idf"].astype(np.float64)
    return model


def models_from_arrays(arrays: Dict[str, np.ndarray], config: Dict[Text, Any]) -> Dict[str, Any]:
    """The models stored side by side as ``<name>.<array>``, by name."""
    by_name: Dict[str, Dict[str, np.ndarray]] = defaultdict(dict)
    for key, value in arrays.items():
        name, array = key.split(".", 1)
        by_name[name][array] = value
    return {name: model_from_arrays(parts, config) for name, parts in by_name.items()}


def save(arrays: Dict[str, np.ndarray], meta: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
         name: str) -> None:
    with model_storage.write_to(resource) as model_dir:
        np.savez(model_dir / f"{name}.npz", **arrays)
        (model_dir / f"{name}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def restore(model_storage: ModelStorage, resource: Resource,
            name: str) -> Optional[Tuple[Dict[str, np.ndarray], Dict[str, Any]]]:
    """What :func:`save` stored (arrays, meta), or None when nothing was."""
    try:
        with model_storage.read_from(resource) as model_dir:
            with np.load(model_dir / f"{name}.npz", allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in stored.files}
            meta = json.loads((model_dir / f"{name}.json").read_text(encoding="utf-8"))
    except (ValueError, FileNotFoundError) as error:
        logger.debug("nothing stored for %s: %s", resource.name, error)
        return None
    return arrays, meta


def sentence_features(messages: List[Message]) -> csr_matrix:
    """The sentence-level features of ``messages``' text as one matrix, a row
    per message: the sparse ones side by side in the order the featurizers
    added them, then the dense ones (Rasa's ``get_sparse_features`` order).

    Built in one step from the rows' non-zeros: Rasa's own way
    (``get_sparse_features``) copies and re-stacks scipy matrices for every
    message and featurizer, which took longer than fitting the models."""
    rows: List[int] = []
    columns: List[np.ndarray] = []
    values: List[np.ndarray] = []
    dense_rows: List[np.ndarray] = []
    width = 0
    for row, message in enumerate(messages):
        offset = 0
        for feature in message.features:
            if feature.attribute != TEXT or feature.type != FEATURE_TYPE_SENTENCE or not feature.is_sparse():
                continue
            matrix = feature.features.tocoo()
            rows.extend([row] * matrix.nnz)
            columns.append(matrix.col + offset)
            values.append(matrix.data)
            offset += matrix.shape[-1]
        width = max(width, offset)
        dense = [f.features.reshape(-1) for f in message.features
                 if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_dense()]
        dense_rows.append(np.concatenate(dense) if dense else np.zeros(0))
    sparse = csr_matrix((np.concatenate(values) if values else np.zeros(0),
                         (np.asarray(rows, dtype=np.int64),
                          np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64))),
                        shape=(len(messages), width))
    if not any(d.size for d in dense_rows):
        return sparse
    return hstack([sparse, csr_matrix(np.vstack(dense_rows))]).tocsr()


def softmax_with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities sharpened (T < 1) or softened (T > 1) as if their logits
    were divided by T: the calibration of a multinomial logistic model."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=-1, keepdims=True)


#: how the logistic regressions are fitted. On Kefu's features (tens of
#: thousands of sparse columns, thirty classes) lbfgs needs ~280 full-gradient
#: iterations and two minutes for the intents; the stochastic average
#: gradient (sag) gets there in passes over the data of a third of a second.
#: How many passes its stopping rule takes is erratic, though: with the
#: same settings, 29 to 176 on folds of the same data, so that one new
#: example could make a retrain's logistic regression take 10 s or 40 s;
#: and the model it stops at is no better for the extra passes: on held-out
#: folds a fixed budget of 30 passes scores the same accuracy, log-loss and
#: confident errors within noise (reports/perf/training.md). So the intents
#: get 30 passes, a steady cost. Seeded, so the same data gives the same
#: model.
SOLVER = {"solver": "sag", "tol": 1e-4, "max_iter": 30, "random_state": 42}


def fit(model: Any, X: csr_matrix, y: Sequence[str]) -> Any:
    """Fit :func:`logistic_regression`'s model within its pass budget
    (``SOLVER``): sklearn warns when the budget, not the tolerance, ended
    the fit, which here is the plan, not a fault."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def logistic_regression(config: Dict[Text, Any]) -> Any:
    """The model: TF-IDF weights (sub-linear counts, rows of unit length, so
    that long messages do not get louder) and a logistic regression."""
    model = LogisticRegression(C=config["C"], max_iter=config["max_iter"], tol=config["tol"],
                               solver=config["solver"], class_weight=config["class_weight"],
                               random_state=config["random_state"])
    if not config.get("tfidf", True):
        return model
    return make_pipeline(Tfidf(sublinear_tf=True), model)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    """Rasa's logistic regression with a chosen ``C`` and ``temperature``.

    With ``margin`` (``{C: ..., weight: ..., folds: 3}``) a linear SVM with
    calibrated probabilities (kefu/nlu/margin.py, its temperature fitted on
    ``folds`` held-out folds) is trained beside it, and the two models'
    probabilities are averaged (``weight`` for the SVM's). With
    ``blend`` > 0 the result is averaged with the ranking a classifier
    before it in the pipeline gave (weight ``blend`` for that)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), **SOLVER, "C": 10.0, "tfidf": True,
                "format": MODEL_FORMAT, "margin": None,
                "class_weight": "balanced", "temperature": 1.0, "blend": 0.0, "ranking_length": 10}

    def __init__(self, config: Dict[Text, Any], name: Text, model_storage: ModelStorage, resource: Resource) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf = logistic_regression(self.config)
        self.margin: Optional[MarginModel] = None

    def _create_X(self, messages: List[Message]) -> csr_matrix:  # Rasa's name
        return sentence_features(messages)

    def train(self, training_data: TrainingData) -> Resource:
        X, y = self._create_training_matrix(training_data)
        if X.shape[0] == 0:
            return self._resource
        with ThreadPoolExecutor(max_workers=1) as pool:  # both solvers release the GIL: two cores
            fitted = pool.submit(fit, self.clf, X, y)
            if self.config["margin"]:
                margin = self.config["margin"]
                self.margin = MarginModel(C=float(margin["C"]), folds=int(margin.get("folds", 3))).fit(X, y)
            fitted.result()
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Store the models, then answer with what was stored (weights in
        single precision), as the loaded model will."""
        arrays = model_arrays(self.clf)
        if self.margin is not None:
            arrays.update({f"margin.{key}": value for key, value in self.margin.arrays().items()})
        save(arrays, {}, self._model_storage, self._resource, "intents")
        self._use(arrays)

    def _use(self, arrays: Dict[str, np.ndarray]) -> None:
        margin = {key.split(".", 1)[1]: value for key, value in arrays.items() if key.startswith("margin.")}
        self.clf = model_from_arrays({k: v for k, v in arrays.items() if not k.startswith("margin.")}, self.config)
        self.margin = MarginModel.from_arrays(margin) if margin else None

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LinearIntentClassifier":
        component = cls(config, execution_context.node_name, model_storage, resource)
        stored = restore(model_storage, resource, "intents")
        if stored is not None:
            component._use(stored[0])
        return component

    def _probabilities(self, X: csr_matrix) -> np.ndarray:
        probabilities = self.clf.predict_proba(X)
        if self.margin is not None and self.config["margin"]:
            weight = float(self.config["margin"]["weight"])
            probabilities = (1 - weight) * probabilities + weight * self.margin.predict_proba(X)
        return probabilities

    def process(self, messages: List[Message]) -> List[Message]:
        if not messages or not hasattr(self.clf, "classes_"):
            return messages
        probabilities = softmax_with_temperature(self._probabilities(self._create_X(messages)),
                                                 float(self.config["temperature"]))
        names = [str(name) for name in self.clf.classes_]
        for message, row in zip(messages, probabilities, strict=True):
            scores = dict(zip(names, row.tolist(), strict=True))
            earlier = message.get("intent_ranking") or []
            if self.config["blend"] and earlier:
                weight = float(self.config["blend"])
                previous = {r["name"]: float(r["confidence"]) for r in earlier}
                scores = {n: (1 - weight) * p + weight * previous.get(n, 0.0) for n, p in scores.items()}
            ranking = sorted(({"name": n, "confidence": c} for n, c in scores.items()),
                             key=lambda r: -r["confidence"])
            message.set(INTENT, ranking[0], add_to_output=True)
            length = int(self.config["ranking_length"])
            message.set("intent_ranking", ranking[:length] if length > 0 else ranking, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearResponseSelector(GraphComponent):
    """The topic of a retrieval intent (``faq/authenticity``), chosen among
    that intent's topics only, for the intent the message was classified as.

    It must come after the intent classifier. What it sets is Rasa's
    ``response_selector`` output: ``all_retrieval_intents`` and, for the
    message's intent, the chosen ``intent_response_key`` with its
    ``utter_action`` and a ranking."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [Featurizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # small models (a few hundred examples each): a tolerance, not a budget, costs nothing
        return {**SOLVER, "tol": 1e-3, "max_iter": 1000, "C": 10.0, "class_weight": "balanced", "tfidf": True,
                "ranking_length": 5, "format": MODEL_FORMAT}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 models: Optional[Dict[str, Any]] = None, responses: Optional[Dict[str, list]] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        #: retrieval intent -> a fitted LogisticRegression, or the one topic when it has just one
        self.models: Dict[str, Any] = models or {}
        self.responses: Dict[str, list] = responses or {}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LinearResponseSelector":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        by_intent: Dict[str, List[Message]] = defaultdict(list)
        for example in training_data.intent_examples:
            if example.get(INTENT_RESPONSE_KEY) and example.get(TEXT):
                by_intent[example.get(INTENT)].append(example)
        for intent, examples in by_intent.items():
            topics = [str(e.get(INTENT_RESPONSE_KEY)) for e in examples]
            if len(set(topics)) == 1:
                self.models[intent] = topics[0]
                continue
            model = fit(logistic_regression(self.config), sentence_features(examples), topics)
            self.models[intent] = model
        self.responses = {key: list(value) for key, value in (training_data.responses or {}).items()}
        self.persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        retrieval_intents = sorted(self.models)
        for message in messages:
            intent = (message.get(INTENT) or {}).get("name")
            selected: Dict[str, Any] = {"all_retrieval_intents": retrieval_intents}
            if intent is not None and intent in self.models:  # no stored model is None
                selected[intent] = self._select(self.models[intent], message)
            message.set(RESPONSE_SELECTOR, selected, add_to_output=True)
        return messages

    def _select(self, model: Any, message: Message) -> Dict[str, Any]:
        if isinstance(model, str):
            ranking = [(model, 1.0)]
        else:
            probabilities = model.predict_proba(sentence_features([message]))[0]
            ranking = sorted(zip((str(c) for c in model.classes_), probabilities.tolist(), strict=True),
                             key=lambda r: -r[1])
        key, confidence = ranking[0]
        length = int(self.config["ranking_length"])
        return {
            "response": {"id": None, "responses": self.responses.get(f"utter_{key}", []), "confidence": confidence,
                         "intent_response_key": key, "utter_action": f"utter_{key}"},
            "ranking": [{"id": None, "confidence": c, "intent_response_key": k} for k, c in ranking[:length]],
        }

    def persist(self) -> None:
        """Store the models, then answer with what was stored (weights in
        single precision), as the loaded model will."""
        arrays = {f"{intent}.{key}": value for intent, model in self.models.items() if not isinstance(model, str)
                  for key, value in model_arrays(model).items()}
        single = {intent: model for intent, model in self.models.items() if isinstance(model, str)}
        save(arrays, {"single": single, "responses": self.responses}, self._model_storage, self._resource,
             "selector")
        self.models = {**models_from_arrays(arrays, self.config), **single}

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LinearResponseSelector":
        config = {**cls.get_default_config(), **config}
        stored = restore(model_storage, resource, "selector")
        if stored is None:
            return cls(config, model_storage, resource)
        arrays, meta = stored
        models = {**models_from_arrays(arrays, config), **meta["single"]}
        return cls(config, model_storage, resource, models, meta["responses"])
