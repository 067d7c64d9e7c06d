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

from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.sparse import csr_matrix
from scipy.special import log_softmax, softmax
from sklearn.model_selection import StratifiedKFold
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

    def fit(self, X: csr_matrix, y: Sequence[str], pool: Optional[Executor] = None) -> "MarginModel":
        """Fit the SVM and its temperature. The held-out fits run in
        ``pool``, beside whatever else it was given (the logistic
        regression): liblinear releases the GIL, so they share the cores."""
        if pool is None:
            with ThreadPoolExecutor(max_workers=1) as own:
                return self.fit(X, y, own)
        labels = np.asarray(y)
        tfidf = Tfidf(sublinear_tf=True).fit(X)
        weighted = tfidf.transform(X)
        folds = self._submit_folds(weighted, labels, pool)
        svm = self._svm().fit(weighted, labels)
        self.tfidf = tfidf
        self.coef = np.asfortranarray(svm.coef_)
        self.intercept = svm.intercept_
        self.classes_ = svm.classes_
        self.temperature = self._fit_temperature(self._gather(folds, len(labels)), labels)
        return self

    def _submit_folds(self, weighted: csr_matrix, labels: np.ndarray,
                      pool: Executor) -> List[Tuple[np.ndarray, Future]]:
        """One task per fold: the margins of the held-out examples from an
        SVM fitted on the others; none when a class is too small to be held
        out."""
        smallest = min(np.unique(labels, return_counts=True)[1])
        folds = min(self.folds, int(smallest))
        if folds < 2:
            return []
        splitter = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
        return [(held, pool.submit(self._fold_margins, weighted, labels, kept, held))
                for kept, held in splitter.split(weighted, labels)]

    def _fold_margins(self, weighted: csr_matrix, labels: np.ndarray, kept: np.ndarray,
                      held: np.ndarray) -> np.ndarray:
        # every class is in every fold's training part: StratifiedKFold with
        # no more folds than the smallest class has examples
        svm = self._svm().fit(weighted[kept], labels[kept])
        return np.asarray(svm.decision_function(weighted[held])).reshape(len(held), -1)

    @staticmethod
    def _gather(folds: List[Tuple[np.ndarray, Future]], rows: int) -> Optional[np.ndarray]:
        """The folds' margins, each example in its own row."""
        if not folds:
            return None
        parts = [(held, task.result()) for held, task in folds]
        margins = np.zeros((rows, parts[0][1].shape[1]))
        for held, part in parts:
            margins[held] = part
        return two_columns(margins.ravel() if margins.shape[1] == 1 else margins)

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
