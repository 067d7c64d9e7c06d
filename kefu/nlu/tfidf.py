"""TF-IDF weights for one message at a time, as sklearn computes them.

Every parse weighs a message's counts three times (the logistic
regression, the SVM, the topic selector). sklearn 1.1's
``TfidfTransformer.transform`` validates its input, then reads its ``idf_``
property, which rebuilds the idf vector from a diagonal matrix over all
columns, and multiplies by that matrix: most of a millisecond per call for
a one-row message (cProfile of ``Agent.parse_message``); without them a
parse takes 3.4 ms instead of 5.8 (median, the same model).

:class:`Tfidf` is the same transformer with the idf kept as a vector and
each stored count multiplied by its column's weight: the same numbers, but
for the last bit of a row's norm, which sklearn sums in another order
(tests/unit/test_nlu_components.py). It always works on a copy.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from scipy.sparse import csr_matrix, issparse
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize


class Tfidf(TfidfTransformer):
    """sklearn's TfidfTransformer with a transform that skips the per-call
    validation and the diagonal matrix."""

    _vector: Optional[np.ndarray] = None

    def fit(self, X: Any, y: Any = None) -> "Tfidf":
        super().fit(X, y)
        self._vector = None
        return self

    @property
    def idf_(self) -> np.ndarray:
        return TfidfTransformer.idf_.fget(self)

    @idf_.setter
    def idf_(self, value: np.ndarray) -> None:
        TfidfTransformer.idf_.fset(self, value)
        self._vector = None

    def transform(self, X: Any, copy: bool = True) -> csr_matrix:
        if not self.use_idf or not issparse(X):
            return super().transform(X, copy=copy)
        if self._vector is None:
            self._vector = np.asarray(self.idf_, dtype=np.float64)
        weighted = csr_matrix(X, dtype=np.float64, copy=True)
        if self.sublinear_tf:
            np.log(weighted.data, weighted.data)
            weighted.data += 1
        weighted.data *= self._vector[weighted.indices]
        return normalize(weighted, norm=self.norm, copy=False) if self.norm else weighted
