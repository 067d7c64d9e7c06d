"""A linear SVM whose scores become probabilities: the second half of Kefu's
intent ensemble (kefu/nlu/linear.py).

On Kefu's sparse n-gram features a linear SVM generalises a little better
than the logistic regression (more right answers in cross-validation), but
its scores are margins, not probabilities, and the fallback decides on
probabilities. They are turned into probabilities by a softmax at a
temperature fitted where the model has not seen the answers: the SVM is
fitted on two thirds of the training data three times, and the temperature
that gives the held-out thirds' true intents the highest likelihood is kept
(temperature scaling, Guo et al. 2017). Averaged with the logistic
regression's probabilities, the ensemble keeps the better accuracy and most
of the logistic regression's honest confidence (reports/nlu/).

The fitted model is plain arrays (:meth:`MarginModel.arrays`), stored and
read like the logistic regressions, never pickled.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.sparse import csr_matrix
from scipy.special import log_softmax, softmax
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from kefu.nlu.tfidf import Tfidf
from kefu.nlu.weights import pack, unpack

#: the range searched for the temperature
TEMPERATURES = (0.01, 5.0)


def two_columns(scores: np.ndarray) -> np.ndarray:
    """A two-class SVM gives one score per row (for the second class); as
    two columns the softmax treats it like any other."""
    return np.column_stack([-scores, scores]) / 2 if scores.ndim == 1 else scores


class MarginModel:
    """TF-IDF weights, a linear SVM, and the temperature of its softmax."""

    def __init__(self, C: float = 1.0, folds: int = 3, random_state: int = 42) -> None:
        self.C = C
        self.folds = folds
        self.random_state = random_state
        self.tfidf: Optional[Tfidf] = None
        self.coef: Optional[np.ndarray] = None
        self.intercept: Optional[np.ndarray] = None
        self.classes_: Optional[np.ndarray] = None
        self.temperature = 1.0

    def _svm(self) -> LinearSVC:
        return LinearSVC(C=self.C, class_weight="balanced", random_state=self.random_state)

    def fit(self, X: csr_matrix, y: Sequence[str]) -> "MarginModel":
        labels = np.asarray(y)
        tfidf = Tfidf(sublinear_tf=True).fit(X)
        weighted = tfidf.transform(X)
        svm = self._svm().fit(weighted, labels)
        self.tfidf = tfidf
        self.coef = np.asfortranarray(svm.coef_)
        self.intercept = svm.intercept_
        self.classes_ = svm.classes_
        self.temperature = self._fit_temperature(self._held_out_margins(weighted, labels), labels)
        return self

    def _held_out_margins(self, weighted: csr_matrix, labels: np.ndarray) -> Optional[np.ndarray]:
        """Each example's margins from an SVM fitted without it; None when a
        class is too small to be held out. One fit after the other: liblinear
        draws from the C library's one random state, so two fits at once in
        two threads would not give the same model twice."""
        smallest = min(np.unique(labels, return_counts=True)[1])
        folds = min(self.folds, int(smallest))
        if folds < 2:
            return None
        splitter = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
        return two_columns(cross_val_predict(self._svm(), weighted, labels, cv=splitter,
                                             method="decision_function"))

    def _fit_temperature(self, held_out: Optional[np.ndarray], labels: np.ndarray) -> float:
        """The temperature that makes held-out margins the most likely
        probabilities; 1 when there are none."""
        if held_out is None:
            return 1.0
        truth = np.searchsorted(self.classes_, labels)  # type: ignore[arg-type]

        def loss(t: float) -> float:
            return float(-log_softmax(held_out / t, axis=1)[np.arange(len(labels)), truth].mean())

        return float(minimize_scalar(loss, bounds=TEMPERATURES, method="bounded").x)

    def predict_proba(self, X: csr_matrix) -> np.ndarray:
        if self.coef is None or self.tfidf is None or self.intercept is None:
            raise ValueError("MarginModel is not fitted")
        scores = np.asarray(self.tfidf.transform(X) @ self.coef.T) + self.intercept
        return softmax(two_columns(scores.ravel() if scores.shape[1] == 1 else scores) / self.temperature, axis=1)

    def arrays(self) -> Dict[str, np.ndarray]:
        if self.coef is None or self.tfidf is None or self.intercept is None or self.classes_ is None:
            raise ValueError("MarginModel is not fitted")
        return {"idf": np.asarray(self.tfidf.idf_, dtype=np.float32), **pack("coef", self.coef),
                "intercept": self.intercept, "classes": np.asarray([str(c) for c in self.classes_]),
                "temperature": np.asarray([self.temperature]), "C": np.asarray([self.C])}

    @classmethod
    def from_arrays(cls, arrays: Dict[str, np.ndarray]) -> "MarginModel":
        model = cls(C=float(arrays["C"][0]))
        model.tfidf = Tfidf(sublinear_tf=True)
        model.tfidf.idf_ = arrays["idf"].astype(np.float64)
        model.intercept, model.classes_ = arrays["intercept"], arrays["classes"]
        model.coef = unpack("coef", arrays)
        model.temperature = float(arrays["temperature"][0])
        return model
