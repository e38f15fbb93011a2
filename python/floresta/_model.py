"""floresta.Model: the Python face of a compiled model."""
import json
import operator
import os

import numpy as np

from . import _core
from ._frame import as_matrix

_KIND = _core.OutputKind
_PROBA = _KIND.proba
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def load(path, *, use_best_iteration=False, num_iterations=None, quantize=True, kernel="auto", max_depth=1024,
         load_threads=0, plan="auto", **policies):
    """Loads a model file; the format is detected from its content.

    Formats: XGBoost JSON/UBJSON, LightGBM text and dump_model JSON, floresta JSON
    (written by ``floresta.export``).
    use_best_iteration: keep only the rounds up to the file's ``best_iteration`` (what
    XGBoost's scikit-learn wrapper predicts with after early stopping). Default False, like
    ``Booster.predict``.
    num_iterations: keep only the first n boosting rounds (None = all).
    quantize: also compile numeric trees to compare 16-bit bins, the fast kernels (exact;
    about 8 bytes per node more memory). False scores with the value walk (same results).
    kernel: the scoring kernel, "auto" (the FLORESTA_KERNEL environment variable when set,
    else the fastest this CPU runs), "avx512", "avx2", "sse4" or "portable"; every kernel gives the
    same results. One this CPU or build lacks raises ValueError naming those available
    (``floresta.available_kernels()``). ``Model.kernel`` names the one chosen.
    plan: the scoring plan, "auto" (the fastest the model can take; the FLORESTA_PLAN
    environment variable, when set, names a preferred plan, taken by the models it can
    score), "bitvector", "quantized", "lanes", "value_walk" or "kmeans"; every plan gives the same
    results. One the model cannot take raises ValueError naming those it can. ``Model.plan``
    names the one chosen. For tests and benchmarks.
    max_depth: deepest tree accepted (deeper trees are refused).
    load_threads: threads that parse and compile big models (0 = one per hardware thread); the
    model is the same whatever the count. Like n_threads: a negative or non-integer count
    raises ValueError, and a count above the machine's hardware threads runs as that many.
    These are all of C++'s ``LoadOptions`` (``load_threads`` is its ``n_threads``); a pickled
    model is loaded again with the same ones.
    n_threads: threads per predict call (1 by default, 0 = all cores); also an attribute. An
    integer >= 0: anything else (-1, 2.5, "2") raises ValueError; a count above the machine's
    hardware threads runs as that many (more never scores faster).
    unknown_category: "as_trained" (default: an unseen category is treated as the training
    library treats it) or "error". extra_fields: "ignore" (default) or "error" — for record,
    dict and DataFrame inputs. Both can also be set later as attributes; any other value
    raises ValueError.
    """
    path = os.fspath(path)
    try:
        # numpy's allocator asks the kernel for huge pages: faster than a read into a bytes
        # object, whose 4 KiB page faults cost more than the copy (docs/benchmarks.md, load/104MB).
        data = np.fromfile(path, dtype=np.uint8)
        data.flags.writeable = False
    except OSError as error:
        raise _core.FlorestaError(f"{path}: cannot open model file ({error.strerror})") from None
    # (the read-only array is kept as it is: copying it to bytes cost as much as reading it)
    return Model(data, path, use_best_iteration, num_iterations=num_iterations, quantize=quantize, kernel=kernel,
                 max_depth=max_depth, load_threads=load_threads, plan=plan, **policies)


def load_bytes(data, *, name="<memory>", use_best_iteration=False, num_iterations=None, quantize=True, kernel="auto",
               max_depth=1024, load_threads=0, plan="auto", **policies):
    """Loads a model from the bytes (or text) of a model file; options as ``load``."""
    if isinstance(data, str):
        data = data.encode()
    return Model(bytes(data), name, use_best_iteration, num_iterations=num_iterations, quantize=quantize,
                 kernel=kernel, max_depth=max_depth, load_threads=load_threads, plan=plan, **policies)


_INT_MAX = 2**31 - 1  # the core's thread counts are C ints


def _thread_count(name, value):
    """n_threads / load_threads as given: an integer, 0 (one per hardware thread) or more.
    Negative counts used to mean "all cores" silently, 2.5 and "2" were truncated or parsed,
    and counts beyond a C int raised pybind11's TypeError at predict time."""
    return _index(name, value, "an integer (0 = one thread per core)",
                  negative="0 (one thread per core) or a positive thread count")


def _index(name, value, what, negative=None):
    """A non-negative integer argument, or ValueError naming it (`negative`: the words for a
    negative one, `what` by default)."""
    try:
        index = operator.index(value)
    except TypeError:
        raise _core.FlorestaError(f"{name} must be {what}, got {value!r}") from None
    if index < 0:
        raise _core.FlorestaError(f"{name} must be {negative or what}, got {index}")
    return index


def available_kernels():
    """The scoring kernels this CPU runs and this build has, fastest first (e.g.
    ``["avx512", "avx2", "sse4", "portable"]``): the values ``load(..., kernel=...)`` accepts besides "auto"."""
    return list(_core.available_kernels())


class _Policy:
    """A record policy attribute: set as its public string, held (as ``_<name>``) as the core's
    enum member of that name; the one place policy strings are checked and converted."""

    def __init__(self, enum, what):
        self._enum = enum
        self.__doc__ = " or ".join(f'"{name}"' for name in enum.__members__) + ": " + what

    def __set_name__(self, owner, name):
        self._name = name
        self._slot = "_" + name

    def __get__(self, model, owner=None):
        return self if model is None else getattr(model, self._slot).name

    def __set__(self, model, value):
        member = self._enum.__members__.get(value) if isinstance(value, str) else None
        if member is None:
            raise _core.FlorestaError(f"{self._name} must be " + " or ".join(f"'{n}'" for n in self._enum.__members__))
        setattr(model, self._slot, member)


class Model:
    """A loaded model. Scoring is thread-safe and releases the GIL.

    Attributes follow scikit-learn's names: ``n_features_in_``, ``feature_names_in_``,
    ``classes_`` (classifiers), plus ``cluster_names_`` (k-means), ``n_outputs_``, ``objective``,
    ``metadata`` (the file's metadata dict) and ``n_threads`` (threads used per predict call; 1 by
    default, 0 = all cores).
    """

    def __init__(self, data, name="<memory>", use_best_iteration=False, n_threads=1, num_iterations=None,
                 unknown_category="as_trained", extra_fields="ignore", quantize=True, kernel="auto", max_depth=1024,
                 load_threads=0, plan="auto"):
        self.unknown_category = unknown_category
        self.extra_fields = extra_fields
        self.n_threads = n_threads
        self._data = data
        self._name = name
        self._use_best_iteration = use_best_iteration
        self._num_iterations = num_iterations
        self._quantize = bool(quantize)
        self._kernel = str(kernel)
        self._max_depth = int(max_depth)
        self._load_threads = _thread_count("load_threads", load_threads)
        self._plan = str(plan)
        self._core = _core.Model.from_bytes(data, name, use_best_iteration, int(num_iterations or 0), self._quantize,
                                            self._kernel, self._max_depth, min(self._load_threads, _INT_MAX),
                                            self._plan)
        self._feature_types = self._core.feature_types
        self._categories = [self._core.categories(j) for j in range(self._core.num_features)]
        self._input_rules = [self._core.input_rule(j) for j in range(self._core.num_features)]
        # What predict() asks on every call, asked of the core once (each attribute read through
        # the binding costs about 60 ns): the kind of estimator, and a classifier's labels,
        # converted once (per call that cost a single row more than scoring it) and read-only
        # like the model they describe.
        self._is_clusterer = self._core.is_clusterer
        self._predicts_codes = self._core.is_outlier_detector or self._is_clusterer
        self._classes = None
        if self._core.is_classifier:
            converted = [_label(v) for v in self._core.output_labels]
            self._classes = np.array(converted) if converted else np.arange(self._core.num_classes)
            self._classes.setflags(write=False)
        # Regressors: the core's answer is predict's, flat when one output (no slice per call).
        self._predicts_values = self._classes is None and not self._predicts_codes
        # The core's scorers for predict and predict_proba: functions bound to the model and its
        # kind once, f(X, n_threads), a third of a small forest's single-row time less than a
        # method of the binding. They score 2-D float32/float64 ndarrays and answer None to
        # anything else (converted by as_matrix here, then scored).
        self._core_predict = self._core.predict_scorer()
        self._core_proba = self._core.scorer(_PROBA)

    @property
    def n_threads(self):
        """Threads per predict call: 1 by default, 0 = one per hardware thread; an integer >= 0
        (anything else raises ValueError). Counts above the hardware threads run as that many."""
        return self._n_threads

    @n_threads.setter
    def n_threads(self, value):
        self._n_threads = _thread_count("n_threads", value)
        self._threads = min(self._n_threads, _INT_MAX)  # what the core gets (it caps at the hardware)

    # ---- record policies: public strings, held as the core's enums ----
    unknown_category = _Policy(_core.UnknownCategory, "what an unseen category in a record or DataFrame gets")
    extra_fields = _Policy(_core.ExtraFields, "what a record field or DataFrame column the model does not know gets")

    # ---- scikit-learn style metadata ----
    @property
    def n_features_in_(self):
        return self._core.num_features

    @property
    def feature_names_in_(self):
        return np.array(self._core.feature_names, dtype=object)

    @property
    def classes_(self):
        if self._classes is None:
            raise AttributeError("classes_ exists only for classifiers; this model is not one "
                                 f"({self._core.objective})")
        return self._classes

    @property
    def cluster_names_(self):
        """k-means models: the name of each cluster, in label order (``predict`` gives the
        index): the names written by ``floresta.export(..., cluster_names=[...])``, else "0", "1", ..."""
        self._require_clusterer("cluster_names_")
        names = self._core.output_labels or [str(k) for k in range(self._core.num_outputs)]
        return np.array(names, dtype=object)

    @property
    def metadata(self):
        """The model file's ``metadata`` object as a new dict (``{}`` when it has none): what the
        model's author attached with ``floresta.export(..., metadata={...})``."""
        text = self._core.metadata
        return json.loads(text) if text else {}

    @property
    def n_outputs_(self):
        return self._core.num_outputs

    @property
    def objective(self):
        return self._core.objective

    @property
    def kernel(self):
        """The scoring kernel chosen when the model was loaded: "avx512", "avx2", "sse4" or "portable"."""
        return self._core.kernel

    @property
    def plan(self):
        """The scoring plan chosen when the model was loaded: "bitvector", "quantized", "lanes",
        "value_walk" or "kmeans" (see ``load``'s ``plan``)."""
        return self._core.plan

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

    @property
    def schema(self):
        """What the model takes and answers: {"features": [{name, type, categories?, input?}],
        "classes"? (classifiers), "clusters"? (k-means: the cluster names)}. ``input`` is the
        feature's input rule as the model file writes it (see ``input_rules_``)."""
        features = []
        for name, kind, categories, rule in zip(self._core.feature_names, self._feature_types, self._categories,
                                                self._input_rules):
            feature = {"name": name, "type": kind}
            if categories is not None:
                feature["categories"] = list(categories)
            if rule is not None:
                feature["input"] = rule
            features.append(feature)
        schema = {"features": features}
        if self._core.is_classifier:
            schema["classes"] = list(self.classes_)
        if self._core.is_clusterer:
            schema["clusters"] = list(self.cluster_names_)
        return schema

    @property
    def input_rules_(self):
        """The model file's input rules, {feature name: rule dict} (``{}`` when it has none):
        how records and DataFrames read a person's values — ``fold`` (case, accents, spaces),
        ``aliases``, ``leading_words``, ``otherwise``, ``min`` / ``max``, ``display`` names.
        A value a rule does not take raises ``floresta.InputError`` (a ValueError naming the
        field and the rule), whatever ``unknown_category`` says."""
        return {name: dict(rule) for name, rule in zip(self._core.feature_names, self._input_rules) if rule is not None}

    def display_name(self, feature, value):
        """The name to show people for a category of `feature` (the rule's ``display`` name,
        else the category itself)."""
        rule = self._input_rules[self._column_index(feature)] or {}
        return rule.get("display", {}).get(value, value)

    def categories(self, feature):
        """Training vocabulary of a categorical feature (name or index), or None."""
        return self._categories[self._column_index(feature)]

    def encode(self, X):
        """The float matrix the model scores for X (records, a DataFrame or an array), shape
        (n_samples, n_features_in_): categories as their training codes, read through the
        input rules; missing values NaN. What every predict method does first."""
        return np.array(self._matrix(X), dtype=np.float64, copy=True)

    # ---- scoring ----
    def predict_raw(self, X):
        """Margins, shape (n_samples, n_outputs_)."""
        return self._score(_KIND.raw, X)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes); binary models give [1-p, p]."""
        # The scorer takes 2-D float32/float64 ndarrays itself and answers None to the rest.
        out = self._core_proba(X, self._threads)
        return out if out is not None else self._core_proba(as_matrix(X, self), self._threads)

    def predict(self, X):
        """Class labels for classifiers; predicted values for regressors (1-D when one output);
        -1 (outlier) / 1 (inlier) for outlier detectors; the nearest centre for k-means. k-means
        refuses (ValueError) a row whose NaN or infinity reaches the distances (no imputer or
        clipping in its pipeline mends it), as scikit-learn does: such a row has no nearest centre."""
        if self._predicts_values:  # the scorer takes 2-D float ndarrays itself, None to the rest
            out = self._core_predict(X, self._threads)
            return out if out is not None else self._core_predict(as_matrix(X, self), self._threads)
        X = self._matrix(X)
        if self._is_clusterer:
            self._refuse_rows_without_distances(X)
        out = self._core_predict(X, self._threads)  # one column (the kind is the core's choice): flat
        if self._classes is not None:
            return self._classes[out.astype(np.int64)]
        return out.astype(np.int64)  # outlier detectors' -1 / 1, k-means' centres

    def _refuse_rows_without_distances(self, X):
        """k-means' predict: the kernels never pick a NaN distance, so a row of NaN or inf used
        to get centre 0 (or whichever came first), silently. Rows with only finite values are
        fine (huge finite ones follow scikit-learn's rule, overflow included); the few others
        are measured and refused when their distances are not finite."""
        finite = np.isfinite(X)
        if finite.all():
            return
        rows = np.flatnonzero(~finite.all(axis=1))
        distances = self._core.score(_KIND.distances, np.ascontiguousarray(X[rows]), 1)
        broken = rows[~np.isfinite(distances).all(axis=1)]
        if broken.size:
            r = int(broken[0])
            names = self._core.feature_names
            values = ", ".join(f"{names[c]}={X[r, c]}" for c in np.flatnonzero(~finite[r])[:5])
            raise _core.FlorestaError(
                f"row {r} ({values}) has no nearest centre: k-means has no rule for missing values (NaN, None) "
                f"or infinities, and this model's preprocessing does not replace them; {broken.size} row(s) "
                "are affected")

    def predict_ranked(self, X, k=None):
        """Classifiers: per row, the classes as (label, probability) pairs, most likely first
        (ties keep class order); the top k, or all when k is None."""
        indices, probabilities = self._core.predict_ranked(self._matrix(X), self._threads)  # ranked in C++
        labels = list(self.classes_)
        return [[(labels[c], p) for c, p in zip(row.tolist(), chances.tolist())]
                for row, chances in zip(indices[:, :k], probabilities[:, :k])]

    # ---- explanations ----
    def predict_contributions(self, X):
        """Exact TreeSHAP contributions (as XGBoost's ``pred_contribs``, LightGBM's
        ``pred_contrib`` and shap's TreeExplainer), for X as records, a DataFrame or an array:
        how much each raw feature moved each output's margin, then the expected value (the
        bias) last. Shape (n_samples, n_features_in_ + 1) for one output, (n_samples,
        n_outputs_, n_features_in_ + 1) for several (XGBoost's layout). Each row sums to the
        margin (``predict_raw``; divided by the number of trees for scikit-learn's forests, as
        shap explains them: random forests' values or probabilities, isolation forests' mean
        path length; LightGBM's rf mode keeps the sum, as its pred_contrib does). Pipelines
        report their raw fields: an encoder's columns are summed back to the field.

        With the shap package: ``shap.Explanation(values=c[:, :-1], base_values=c[:, -1],
        data=X, feature_names=model.feature_names_in_)`` feeds its plots."""
        out = self._core.predict_contributions(self._matrix(X), self._threads)
        return out[:, 0, :] if out.shape[1] == 1 else out

    @property
    def expected_value_(self):
        """The bias column of predict_contributions: each output's expected margin over the
        training data as the trees saw it (a float for one output, an array for several)."""
        expected = np.asarray(self._core.expected_value())
        return float(expected[0]) if expected.size == 1 else expected

    @property
    def can_explain(self):
        """Whether predict_contributions works for this model (explain_refusal_ says why not)."""
        return self._core.can_explain

    @property
    def explain_refusal_(self):
        return self._core.explain_refusal

    def explain_record(self, record, k=None, output=None):
        """The fields of one record (a dict) that moved the answer most: a list of
        ``{"field", "value", "contribution"}`` dicts, largest ``|contribution|`` first, the top
        k (all when None, none when 0). ``output``: which margin (default: the positive class of
        a binary model, the most likely class of a multi-class one); contributions are in margin
        units. A k or output that is not an integer >= 0 (or an output past the model's)
        raises ValueError."""
        if not isinstance(record, dict):
            raise _core.FlorestaError("explain_record takes one record (a dict of field names to values)")
        # k and output checked here: a negative or huge one used to escape as pybind11's
        # TypeError/RuntimeError, k=2.5 was truncated, and k=0 (the core's "all") gave every field.
        if k is not None:
            k = _index("k", k, "None or a count >= 0")
        if output is not None:
            output = _index("output", output, f"None or an output index in [0, {self._core.num_outputs})")
            if output >= self._core.num_outputs:
                raise _core.FlorestaError(f"output {output} out of range for a model of {self._core.num_outputs} outputs")
        parts = self._core.explain_record(record, 0 if k is None else min(k, 2**62), output,
                                          self._unknown_category, self._extra_fields)
        return parts if k != 0 else []

    def score_samples(self, X):
        """Outlier detectors (IsolationForest): the anomaly score, lower is more abnormal."""
        self._require_outlier("score_samples")
        return self._score(_KIND.value, X)[:, 0]

    def decision_function(self, X):
        """Outlier detectors: score_samples(X) - offset_ (negative means outlier).
        Classifiers: the margins, as scikit-learn's boosting classifiers return them
        (shape (n,) for one output, else (n, n_outputs_))."""
        if self._core.is_classifier:
            raw = self._score(_KIND.raw, X)
            return raw[:, 0] if raw.shape[1] == 1 else raw
        self._require_outlier("decision_function")
        return self._score(_KIND.decision, X)[:, 0]

    def transform(self, X):
        """k-means: the Euclidean distance of each row to each centre, shape (n, n_clusters)."""
        self._require_clusterer("transform")
        return self._score(_KIND.distances, X)

    def score(self, X):
        """k-means: minus the inertia (sum of squared distances to the nearest centres)."""
        self._require_clusterer("score")
        return -self._core.inertia(self._matrix(X), self._threads)

    @property
    def n_clusters(self):
        self._require_clusterer("n_clusters")
        return self._core.num_outputs

    def _require_clusterer(self, what):
        if not self._core.is_clusterer:
            raise AttributeError(f"{what} exists only for k-means models; this model is {self._core.objective}")

    @property
    def offset_(self):
        self._require_outlier("offset_")
        return self._core.decision_offset

    def _require_outlier(self, what):
        if not self._core.is_outlier_detector:
            raise AttributeError(f"{what} exists only for outlier detectors; this model is {self._core.objective}")

    def _score(self, kind, X):
        return self._core.score(kind, self._matrix(X), self._threads)

    def _matrix(self, X):
        # Fast path for what most calls pass: a 2-D native float32/float64 numpy array (numpy's
        # native float dtypes are singletons; any other dtype goes through as_matrix).
        if type(X) is np.ndarray and X.ndim == 2 and (X.dtype is _F32 or X.dtype is _F64):
            return X
        return as_matrix(X, self)

    # ---- helpers ----
    def _column_index(self, feature):
        if isinstance(feature, str):
            names = self._core.feature_names
            if feature not in names:
                raise _core.FlorestaError(f"no feature named '{feature}'")
            return names.index(feature)
        return int(feature)

    # ---- pickling: the model file's bytes are the state ----
    def __getstate__(self):
        return {"data": bytes(self._data), "name": self._name, "use_best_iteration": self._use_best_iteration,
                "num_iterations": self._num_iterations, "n_threads": self.n_threads,
                "unknown_category": self.unknown_category, "extra_fields": self.extra_fields,
                "quantize": self._quantize, "kernel": self._kernel, "max_depth": self._max_depth,
                "load_threads": self._load_threads, "plan": self._plan}

    def __setstate__(self, state):
        self.__init__(state["data"], state["name"], state["use_best_iteration"], state["n_threads"],
                      state.get("num_iterations"), state.get("unknown_category", "as_trained"),
                      state.get("extra_fields", "ignore"), state.get("quantize", True), state.get("kernel", "auto"),
                      state.get("max_depth", 1024), state.get("load_threads", 0), state.get("plan", "auto"))

    @property
    def is_outlier_detector(self):
        return self._core.is_outlier_detector

    def __repr__(self):
        if "_core" not in vars(self):
            return "<floresta.Model (not loaded)>"
        if self._core.is_clusterer:
            return (f"<floresta.Model {self._name!r}: {self._core.objective}, {self.n_outputs_} clusters, "
                    f"{self.n_features_in_} features>")
        kind = f"{self._core.num_classes} classes" if self._core.is_classifier else f"{self.n_outputs_} output(s)"
        return (f"<floresta.Model {self._name!r}: {self._core.objective}, {kind}, "
                f"{self.n_features_in_} features, {self.n_trees} trees>")


def _label(text):
    """Class labels travel as strings; give back ints where they are ints."""
    try:
        value = int(text)
        return value if str(value) == text else text
    except ValueError:
        return text
