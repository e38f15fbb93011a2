"""floresta.export: scikit-learn estimators -> floresta model JSON (docs/floresta-model.md).

The exporter reads the fitted estimator's arrays and writes them with the decision rule,
link and constants that reproduce scikit-learn's own predictions; floresta's C++ loader
reads the file like any other model. Every number is written exactly (shortest round-trip
repr of the float64), infinities as the strings "inf" / "-inf".
"""
import json
import math

import numpy as np

from ._core import FlorestaError
from ._numbers import json_number as _number

FORMAT_VERSION = 1


def export(estimator, path=None, *, class_labels=None, metadata=None, cluster_names=None, input_rules=None):
    """Writes `estimator` as floresta model JSON to `path` (or returns the JSON text when
    path is None). Raises ValueError for estimators floresta does not support.

    class_labels: for classifiers, the name to give each class in the file (one string per
    class, in the order of ``estimator.classes_``), replacing the class values. Use it when
    the model was trained on class codes (XGBoost's 0..k-1) but its users should see names:
    the labels then travel inside the model file (``Model.classes_`` in Python,
    ``model.schema().output_labels`` in C++), with no sidecar file.
    metadata: a dict of whatever should travel with the model (thresholds, a model card,
    feature descriptions): string keys, JSON values (no NaN or infinity). Written as the
    file's ``metadata`` object; ``Model.metadata`` in Python, ``model.metadata()`` (JSON text)
    in C++. floresta itself never reads it.
    cluster_names: for k-means models (alone or ending a Pipeline), a name per cluster (one
    string per centre, in label order): ``Model.cluster_names_`` in Python,
    ``model.class_labels()`` in C++.
    input_rules: {feature name: rule} — how a person's raw values are read, applied by every
    path that encodes records or DataFrames (C++ ``Record``, Python records and DataFrames).
    A rule holds any of: ``fold`` (a list of "case", "accents", "spaces"), ``aliases`` ({text:
    category}), ``leading_words`` (also match a category or alias followed by more words),
    ``otherwise`` (the category of a text nothing matches; without it such a text is refused),
    ``min`` / ``max`` (numeric features) and ``display`` ({category: name to show}). Checked
    by loading the written model: a rule that names no feature, an alias to an unknown
    category or two texts folding alike raise ValueError here. Written as the file's
    ``input`` object (docs/floresta-model.md)."""
    document = to_document(estimator)
    if class_labels is not None:
        document["classes"] = _class_labels(estimator, document, class_labels)
    if cluster_names is not None:
        document["classes"] = _cluster_names(estimator, document, cluster_names)
    if metadata is not None:
        document["metadata"] = _metadata(metadata)
    if input_rules is not None:
        document["input"] = _input_rules(input_rules)
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    if input_rules is not None:
        from ._model import load_bytes

        load_bytes(text.encode("utf-8"), name="the exported model")  # the C++ loader checks the rules
    if path is None:
        return text
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _input_rules(rules):
    if not isinstance(rules, dict):
        raise FlorestaError(f"input_rules must be a dict of feature names to rules, got {type(rules).__name__}")
    out = {}
    for name, rule in rules.items():
        if not isinstance(rule, dict):
            raise FlorestaError(f"input_rules['{name}'] must be a dict, got {type(rule).__name__}")
        out[str(name)] = json.loads(json.dumps(rule, allow_nan=False))
    return out


def to_document(estimator):
    """The floresta model document (a dict) for a fitted estimator or pipeline."""
    name = type(estimator).__name__
    if name == "Pipeline":
        from ._pipeline import export_pipeline

        if not _is_fitted(estimator.steps[-1][1]):
            raise FlorestaError("the Pipeline is not fitted")
        document = export_pipeline(estimator, _estimator_document)
        if hasattr(estimator, "classes_") and "classes" in document:
            document["classes"] = _classes(estimator)
    else:
        document = _estimator_document(estimator)
    import sklearn

    document = {"floresta_format": FORMAT_VERSION,
                "producer": {"library": "scikit-learn", "version": sklearn.__version__, "estimator": name},
                **document}
    return document


def _estimator_document(estimator):
    name = type(estimator).__name__
    exporter = _EXPORTERS.get(name)
    if exporter is None:
        raise FlorestaError(
            f"floresta.export does not support {name}; supported: {', '.join(sorted(_EXPORTERS))}, Pipeline")
    if not _is_fitted(estimator):
        raise FlorestaError(f"{name} is not fitted")
    return exporter(estimator)


# ---------------------------------------------------------------------------------------------
# helpers


def _is_fitted(estimator):
    if hasattr(estimator, "__sklearn_is_fitted__"):  # XGBoost's wrappers keep no `name_` attribute
        return estimator.__sklearn_is_fitted__()
    return any(k.endswith("_") and not k.startswith("__") for k in vars(estimator))


def _numbers(values):
    return [_number(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def _features(estimator, n_features):
    names = getattr(estimator, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None else [f"x{i}" for i in range(n_features)]
    return [{"name": n, "type": "numeric"} for n in names]


def _classes(estimator):
    out = []
    for c in estimator.classes_:
        if isinstance(c, (np.integer, int)) and not isinstance(c, (bool, np.bool_)):
            out.append(int(c))
        elif isinstance(c, (np.floating, float)):
            out.append(float(c))
        elif isinstance(c, (np.bool_, bool)):
            out.append(bool(c))
        else:
            out.append(str(c))
    return out


def _class_labels(estimator, document, labels):
    if "classes" not in document:
        raise FlorestaError(f"class_labels given, but {type(estimator).__name__} is not a classifier")
    return _names("class_labels", labels, len(document["classes"]), "class", "classes")


def _cluster_names(estimator, document, names):
    if document.get("task") != "clustering":
        raise FlorestaError(f"cluster_names given, but {type(estimator).__name__} is not a k-means model")
    return _names("cluster_names", names, document["num_outputs"], "cluster", "clusters")


def _names(argument, labels, count, one, many):
    """`labels` checked as the names of `count` outputs: a list of distinct strings."""
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
        raise FlorestaError(f"{argument} must be a list of strings, one per {one}")
    labels = list(labels)
    if len(labels) != count:
        raise FlorestaError(f"{argument} has {len(labels)} labels, the model has {count} {many}")
    for k, label in enumerate(labels):
        if not isinstance(label, str):
            raise FlorestaError(f"{argument}[{k}] = {label!r} is not a string")
    if len(set(labels)) != len(labels):
        raise FlorestaError(f"{argument} has repeated labels")
    return labels


def _metadata(metadata):
    """`metadata` checked as the file's metadata object: a dict that JSON writes as it is."""
    if not isinstance(metadata, dict):
        raise FlorestaError(f"metadata must be a dict, not {type(metadata).__name__}")
    try:
        json.dumps(metadata, allow_nan=False)  # also refuses cycles, so the walk below ends
    except (TypeError, ValueError) as error:
        raise FlorestaError(f"metadata cannot be written as JSON: {error}") from None
    _check_keys(metadata, "metadata")
    return metadata


def _check_keys(value, where):
    # json.dumps turns int, float, bool and None keys into strings: the model would then
    # carry a different dict from the one given, so such keys are refused instead.
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise FlorestaError(f"{where} has the key {key!r}: JSON object keys must be strings")
            _check_keys(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            _check_keys(item, f"{where}[{k}]")


def _single_output(estimator):
    if getattr(estimator, "n_outputs_", 1) != 1:
        raise FlorestaError(f"{type(estimator).__name__} with {estimator.n_outputs_} outputs is not supported "
                            "(multi-output trees)")


def _tree_arrays(tree, feature_map=None):
    """A scikit-learn Cython tree (estimator.tree_) as floresta tree arrays."""
    left = tree.children_left.astype(np.int64)
    right = tree.children_right.astype(np.int64)
    feature = tree.feature.astype(np.int64).copy()
    leaves = left == -1
    feature[leaves] = 0
    if feature_map is not None:
        feature[~leaves] = np.asarray(feature_map)[feature[~leaves]]
    threshold = tree.threshold.astype(np.float64).copy()
    threshold[leaves] = 0.0
    missing = getattr(tree, "missing_go_to_left", None)
    default_left = np.zeros(len(left), dtype=np.int64) if missing is None else missing.astype(np.int64)
    default_left[leaves] = 0
    # The training weight reaching each node: what TreeSHAP weighs a split's sides by.
    return {"left_children": left.tolist(), "right_children": right.tolist(), "split_feature": feature.tolist(),
            "threshold": _numbers(threshold), "default_left": default_left.tolist(),
            "cover": _numbers(tree.weighted_n_node_samples)}


def _classifier_leaves(tree):
    """Per-node class probabilities exactly as DecisionTreeClassifier.predict_proba computes them."""
    value = tree.value[:, 0, :].astype(np.float64)
    normalizer = value.sum(axis=1)[:, np.newaxis]
    normalizer[normalizer == 0.0] = 1.0
    return value / normalizer


# ---------------------------------------------------------------------------------------------
# decision trees and forests (scikit-learn's Cython trees: float32 inputs, float64 thresholds)


def _export_tree_ensemble(estimator, trees, average):
    _single_output(estimator)
    n_features = estimator.n_features_in_
    is_classifier = hasattr(estimator, "classes_")
    document = {"decision_rule": "sklearn_tree", "link": "identity", "num_features": n_features,
                "features": _features(estimator, n_features)}
    exported = []
    if is_classifier:
        k = len(estimator.classes_)
        document.update(task="multiclass", num_outputs=k, leaf_width=k, base_margin=[0.0] * k,
                        classes=_classes(estimator))
        for tree in trees:
            arrays = _tree_arrays(tree.tree_)
            arrays["leaf_vector"] = _numbers(_classifier_leaves(tree.tree_))
            exported.append(arrays)
    else:
        document.update(task="regression", num_outputs=1, leaf_width=1, base_margin=[0.0])
        for tree in trees:
            arrays = _tree_arrays(tree.tree_)
            arrays["leaf_value"] = _numbers(tree.tree_.value[:, 0, 0])
            exported.append(arrays)
    if average:
        document["average_divisor"] = float(len(trees))
    document["trees"] = exported
    return document


def _export_decision_tree(estimator):
    return _export_tree_ensemble(estimator, [estimator], average=False)


def _export_forest(estimator):
    return _export_tree_ensemble(estimator, estimator.estimators_, average=True)


# ---------------------------------------------------------------------------------------------
# GradientBoosting: raw = init + sum(learning_rate * leaf), stage-major, float64


def _gradient_boosting_init(estimator):
    from sklearn.dummy import DummyClassifier, DummyRegressor

    init = estimator.init_
    if init == "zero":
        return np.zeros(estimator.estimators_.shape[1])
    if not isinstance(init, (DummyClassifier, DummyRegressor)):
        raise FlorestaError(f"{type(estimator).__name__} with init={type(init).__name__} is not supported: "
                            "floresta exports constant initial predictions (init=None, 'zero' or a Dummy estimator)")
    probe = np.zeros((1, estimator.n_features_in_), dtype=np.float32)
    return np.asarray(estimator._raw_predict_init(probe), dtype=np.float64).reshape(-1)


def _export_gradient_boosting(estimator):
    n_features = estimator.n_features_in_
    stages = estimator.estimators_
    k = stages.shape[1]
    document = {"decision_rule": "sklearn_tree", "num_features": n_features, "features": _features(estimator, n_features),
                "num_outputs": k, "leaf_width": 1, "base_margin": _numbers(_gradient_boosting_init(estimator))}
    loss = estimator.loss
    if hasattr(estimator, "classes_"):
        document["classes"] = _classes(estimator)
        if k == 1:
            document.update(task="binary", link="sigmoid", link_scale=2.0 if loss == "exponential" else 1.0,
                            class_from_margin=True)
        else:
            document.update(task="multiclass", link="softmax", class_from_margin=True)
    else:
        document.update(task="regression", link="identity")
    lr = float(estimator.learning_rate)
    trees = []
    for stage in range(stages.shape[0]):
        for group in range(k):
            tree = stages[stage, group].tree_
            arrays = _tree_arrays(tree)
            arrays["leaf_value"] = _numbers(lr * tree.value[:, 0, 0])
            arrays["output_group"] = group
            trees.append(arrays)
    document["trees"] = trees
    document["iteration_indptr"] = list(range(0, len(trees) + 1, k))
    return document


# ---------------------------------------------------------------------------------------------
# HistGradientBoosting: float64 inputs, x <= t, NaN -> missing_go_to_left, category bitsets


def _hist_input_order(estimator):
    """For each internal column the predictors use, the user's column index.

    Since scikit-learn 1.4 a fitted internal OrdinalEncoder moves categorical columns in
    front of the numeric ones; node feature indices refer to that order."""
    n = estimator.n_features_in_
    pre = getattr(estimator, "_preprocessor", None)
    if pre is None:
        return list(range(n)), {}
    order, vocab = [], {}
    for name, transformer, columns in pre.transformers_:
        if transformer == "drop" or name == "remainder" and transformer == "drop":
            continue
        columns = np.arange(n)[np.asarray(columns)] if np.asarray(columns).dtype == bool else list(columns)
        if name == "encoder":
            for j, column in enumerate(columns):
                vocab[int(column)] = [_category(c) for c in transformer.categories_[j]]
        order.extend(int(c) for c in columns)
    return order, vocab


def _category(value):
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    return str(value)


def _export_hist_gradient_boosting(estimator):
    n_features = estimator.n_features_in_
    order, vocab = _hist_input_order(estimator)
    features = _features(estimator, n_features)
    categorical_mask = getattr(estimator, "is_categorical_", None)  # in the user's column order
    is_categorical = np.zeros(n_features, dtype=bool) if categorical_mask is None else np.asarray(categorical_mask)
    for column in np.flatnonzero(is_categorical):
        features[column]["type"] = "categorical"
        if column in vocab:
            features[column]["categories"] = [c for c in vocab[column] if not (isinstance(c, float) and math.isnan(c))]
    known_bitsets, f_idx_map = (None, None)
    if is_categorical.any():
        known_bitsets, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()

    predictors = estimator._predictors
    k = len(predictors[0])
    baseline = np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(-1)
    document = {"decision_rule": "sklearn_hist", "num_features": n_features, "features": features,
                "num_outputs": k, "leaf_width": 1, "base_margin": _numbers(np.broadcast_to(baseline, (k,)))}
    loss = estimator._loss
    link = type(loss.link).__name__
    if hasattr(estimator, "classes_"):
        document["classes"] = _classes(estimator)
        document.update(task="binary" if k == 1 else "multiclass", link="sigmoid" if k == 1 else "softmax")
    else:
        links = {"IdentityLink": "identity", "LogLink": "exp"}
        if link not in links:
            raise FlorestaError(f"HistGradientBoostingRegressor with a {link} link is not supported")
        document.update(task="regression", link=links[link])

    trees = []
    for iteration in predictors:
        for group, predictor in enumerate(iteration):
            nodes = predictor.nodes
            leaves = nodes["is_leaf"].astype(bool)
            left = np.where(leaves, -1, nodes["left"].astype(np.int64))
            right = np.where(leaves, -1, nodes["right"].astype(np.int64))
            internal_feature = nodes["feature_idx"].astype(np.int64)
            feature = np.where(leaves, 0, np.asarray(order)[internal_feature])
            threshold = np.where(leaves, 0.0, nodes["num_threshold"].astype(np.float64))
            arrays = {"left_children": left.tolist(), "right_children": right.tolist(),
                      "split_feature": feature.tolist(), "threshold": _numbers(threshold),
                      "default_left": np.where(leaves, 0, nodes["missing_go_to_left"]).astype(np.int64).tolist(),
                      "leaf_value": _numbers(np.where(leaves, nodes["value"], 0.0)), "output_group": group,
                      "cover": _numbers(nodes["count"])}
            categorical_nodes = np.flatnonzero(~leaves & nodes["is_categorical"].astype(bool))
            if len(categorical_nodes):
                lists, counts = [], []
                for i in categorical_nodes:
                    raw_left = predictor.raw_left_cat_bitsets[nodes["bitset_idx"][i]]
                    known = known_bitsets[f_idx_map[internal_feature[i]]]
                    left_codes = _bitset_codes(raw_left)
                    known_codes = _bitset_codes(known)
                    count = (max(known_codes) + 1) if known_codes else 0
                    # Codes never seen in training take the missing direction (scikit-learn's rule).
                    if nodes["missing_go_to_left"][i]:
                        unknown = sorted(set(range(count)) - set(known_codes))
                        left_codes = sorted(set(left_codes) | set(unknown))
                    lists.append(left_codes)
                    counts.append(count)
                arrays["categorical"] = {"nodes": categorical_nodes.tolist(), "categories": lists,
                                         "category_counts": counts}
            trees.append(arrays)
    document["trees"] = trees
    document["iteration_indptr"] = list(range(0, len(trees) + 1, k))
    _numeric_category_lookups(document)
    return document


def _numeric_category_lookups(document):
    """Numeric categories reach scikit-learn's trees through its internal OrdinalEncoder, so a
    raw value must become its position in the vocabulary (unseen and missing: NaN, which the
    trees send the missing way). floresta carries that encoder as a lookup step."""
    features = document["features"]
    numeric = [j for j, f in enumerate(features) if f["type"] == "categorical" and f.get("categories")
               and not isinstance(f["categories"][0], str)]
    if not numeric:
        return
    columns, tables = [], []
    for j, feature in enumerate(features):
        steps = []
        if j in numeric:
            keys = [float(v) for v in feature["categories"]]
            order = np.argsort(keys, kind="stable")
            tables.append({"name": f"categories of '{feature['name']}'", "keys": [keys[i] for i in order],
                           "values": [float(i) for i in order], "unknown": "nan", "missing": "nan"})
            steps.append({"kind": "lookup_value", "table": len(tables) - 1})
            feature["numbers_are_codes"] = False
        columns.append({"input": j, "steps": steps})
    document["preprocessing"] = {"columns": columns, "tables": tables}


def _bitset_codes(words):
    codes = []
    for w, word in enumerate(np.asarray(words, dtype=np.uint32)):
        word = int(word)
        for b in range(32):
            if (word >> b) & 1:
                codes.append(32 * w + b)
    return codes


# ---------------------------------------------------------------------------------------------
# IsolationForest: leaf value = depth + c(n_samples in leaf) - 1; score = -2^(-mean / c(max_samples))


def _export_isolation_forest(estimator):
    from sklearn.ensemble._iforest import _average_path_length

    n_features = estimator.n_features_in_
    trees = []
    path_lengths = getattr(estimator, "_decision_path_lengths", None)
    average_lengths = getattr(estimator, "_average_path_length_per_tree", None)
    for t, (tree, columns) in enumerate(zip(estimator.estimators_, estimator.estimators_features_)):
        arrays = _tree_arrays(tree.tree_, feature_map=columns)
        if path_lengths is not None:
            depth = np.asarray(path_lengths[t], dtype=np.float64)
            average = np.asarray(average_lengths[t], dtype=np.float64)
        else:  # older scikit-learn: derive the same terms
            depth = _node_depths(tree.tree_).astype(np.float64) + 1.0
            average = _average_path_length(tree.tree_.n_node_samples)
        arrays["leaf_value"] = _numbers(depth + average - 1.0)
        trees.append(arrays)
    denominator = len(estimator.estimators_) * float(_average_path_length([estimator._max_samples])[0])
    return {"task": "outlier", "decision_rule": "sklearn_tree", "link": "isolation", "link_scale": denominator,
            "decision_offset": float(estimator.offset_), "num_features": n_features,
            "features": _features(estimator, n_features), "num_outputs": 1, "leaf_width": 1, "base_margin": [0.0],
            "trees": trees}


def _node_depths(tree):
    depth = np.zeros(tree.node_count, dtype=np.int64)
    for i in range(tree.node_count):
        for child in (tree.children_left[i], tree.children_right[i]):
            if child != -1:
                depth[child] = depth[i] + 1
    return depth


# ---------------------------------------------------------------------------------------------
# k-means: the centres; assignment, distances and inertia are computed by floresta's KMeans


def _export_kmeans(estimator):
    centers = np.asarray(estimator.cluster_centers_)
    k, d = centers.shape
    return {"task": "clustering", "decision_rule": "sklearn_tree", "link": "identity", "num_features": d,
            "features": _features(estimator, d), "num_outputs": k, "leaf_width": 1, "base_margin": [0.0] * k,
            "kmeans": {"centers": [_numbers(row) for row in centers.astype(np.float64)],
                       "dtype": str(centers.dtype)},
            "trees": []}


# ---------------------------------------------------------------------------------------------
# XGBoost and LightGBM scikit-learn wrappers: their own model files, embedded


def _export_xgboost_wrapper(estimator):
    booster = estimator.get_booster()
    document = {"num_features": int(booster.num_features()),
                "estimator": {"format": "xgboost", "document": json.loads(booster.save_raw("json")),
                              # the wrapper predicts with best_iteration + 1 rounds after early stopping
                              "use_best_iteration": True}}
    if hasattr(estimator, "classes_"):
        document["classes"] = _classes(estimator)
    return document


def _export_lightgbm_wrapper(estimator):
    booster = estimator.booster_
    document = {"num_features": int(booster.num_feature()),
                "estimator": {"format": "lightgbm-text", "text": booster.model_to_string()}}
    if hasattr(estimator, "classes_"):
        document["classes"] = _classes(estimator)
    return document


_EXPORTERS = {
    "XGBClassifier": _export_xgboost_wrapper,
    "XGBRegressor": _export_xgboost_wrapper,
    "LGBMClassifier": _export_lightgbm_wrapper,
    "LGBMRegressor": _export_lightgbm_wrapper,
    "KMeans": _export_kmeans,
    "MiniBatchKMeans": _export_kmeans,
    "DecisionTreeClassifier": _export_decision_tree,
    "DecisionTreeRegressor": _export_decision_tree,
    "ExtraTreeClassifier": _export_decision_tree,
    "ExtraTreeRegressor": _export_decision_tree,
    "RandomForestClassifier": _export_forest,
    "RandomForestRegressor": _export_forest,
    "ExtraTreesClassifier": _export_forest,
    "ExtraTreesRegressor": _export_forest,
    "GradientBoostingClassifier": _export_gradient_boosting,
    "GradientBoostingRegressor": _export_gradient_boosting,
    "HistGradientBoostingClassifier": _export_hist_gradient_boosting,
    "HistGradientBoostingRegressor": _export_hist_gradient_boosting,
    "IsolationForest": _export_isolation_forest,
}
