"""floresta.Model: the Python face of a compiled model."""
import os

import numpy as np

from . import _core
from ._frame import as_matrix


def load(path, *, use_best_iteration=False):
    """Loads a model file; the format is detected from its content.

    use_best_iteration: keep only the rounds up to the file's ``best_iteration`` (what
    XGBoost's scikit-learn wrapper predicts with after early stopping). Default False, like
    ``Booster.predict``.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise _core.FlorestaError(f"{path}: cannot open model file ({error.strerror})") from None
    return load_bytes(data, name=path, use_best_iteration=use_best_iteration)


def load_bytes(data, *, name="<memory>", use_best_iteration=False):
    """Loads a model from the bytes of a model file."""
    return Model(bytes(data), name, use_best_iteration)


class Model:
    """A loaded model. Scoring is thread-safe and releases the GIL.

    Attributes follow scikit-learn's names: ``n_features_in_``, ``feature_names_in_``,
    ``classes_`` (classifiers), plus ``n_outputs_``, ``objective`` and ``n_threads`` (threads
    used per predict call; 1 by default, 0 = all cores).
    """

    def __init__(self, data, name="<memory>", use_best_iteration=False, n_threads=1):
        self._data = data
        self._name = name
        self._use_best_iteration = use_best_iteration
        self._core = _core.Model.from_bytes(data, name, use_best_iteration)
        self.n_threads = n_threads
        self._feature_types = self._core.feature_types
        self._categories = [self._core.categories(j) for j in range(self._core.num_features)]
        self._lookups = {}

    # ---- scikit-learn style metadata ----
    @property
    def n_features_in_(self):
        return self._core.num_features

    @property
    def feature_names_in_(self):
        return np.array(self._core.feature_names, dtype=object)

    @property
    def classes_(self):
        if not self._core.is_classifier:
            raise AttributeError("classes_ exists only for classifiers; this model is a regressor "
                                 f"({self._core.objective})")
        return np.arange(self._core.num_classes)

    @property
    def n_outputs_(self):
        return self._core.num_outputs

    @property
    def objective(self):
        return self._core.objective

    @property
    def format(self):
        return self._core.format

    @property
    def is_classifier(self):
        return self._core.is_classifier

    @property
    def n_trees(self):
        return self._core.num_trees

    @property
    def best_iteration(self):
        value = self._core.best_iteration
        return None if value < 0 else value

    @property
    def feature_types(self):
        """'numeric' or 'categorical' per feature."""
        return list(self._feature_types)

    def categories(self, feature):
        """Training vocabulary of a categorical feature (name or index), or None."""
        return self._categories[self._column_index(feature)]

    # ---- scoring ----
    def predict_raw(self, X):
        """Margins, shape (n_samples, n_outputs_)."""
        return self._score("raw", X)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes); binary models give [1-p, p]."""
        return self._score("proba", X)

    def predict(self, X):
        """Class labels for classifiers; predicted values for regressors (1-D when one output)."""
        if self._core.is_classifier:
            return self._score("class", X)[:, 0].astype(np.int64)
        values = self._score("value", X)
        return values[:, 0] if values.shape[1] == 1 else values

    def _score(self, kind, X):
        return self._core.score(kind, as_matrix(X, self), int(self.n_threads))

    # ---- helpers ----
    def _column_index(self, feature):
        if isinstance(feature, str):
            names = self._core.feature_names
            if feature not in names:
                raise _core.FlorestaError(f"no feature named '{feature}'")
            return names.index(feature)
        return int(feature)

    def _category_lookup(self, j):
        """{category value: training code} for feature j, or None when the file has no vocabulary."""
        if j not in self._lookups:
            vocabulary = self._categories[j]
            self._lookups[j] = None if vocabulary is None else {
                (float(v) if not isinstance(v, str) else v): code for code, v in enumerate(vocabulary)}
        return self._lookups[j]

    # ---- pickling: the model file's bytes are the state ----
    def __getstate__(self):
        return {"data": self._data, "name": self._name, "use_best_iteration": self._use_best_iteration,
                "n_threads": self.n_threads}

    def __setstate__(self, state):
        self.__init__(state["data"], state["name"], state["use_best_iteration"], state["n_threads"])

    def __repr__(self):
        kind = f"{self._core.num_classes} classes" if self._core.is_classifier else f"{self.n_outputs_} output(s)"
        return (f"<floresta.Model {self._name!r}: {self._core.objective}, {kind}, "
                f"{self.n_features_in_} features, {self.n_trees} trees>")
