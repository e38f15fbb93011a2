"""The scoring kernel and plan: chosen once per model (Model.kernel, Model.plan), forced by
load(kernel=..., plan=...) or the FLORESTA_KERNEL / FLORESTA_PLAN environment variables (the
argument wins), identical answers from every kernel this CPU runs with every plan a model can
take, and a ValueError naming the available ones for a kernel the CPU lacks or a plan the
model cannot take."""
import os
import pickle

import numpy as np
import pytest

import floresta

DATA = os.path.join(os.path.dirname(__file__), "..", "data")
MODELS = ["xgb_binary.json", "xgb_multiclass_categorical.ubj", "lgb_multiclass.json", "lgb_binary_categorical.txt",
          "skl_hist_gradient_boosting.json", "skl_random_forest.json", "skl_kmeans.json"]


def test_available_kernels():
    kernels = floresta.available_kernels()
    assert kernels[-1] == "portable"
    assert set(kernels) <= {"avx512", "avx2", "sse4", "portable"}
    order = ["avx512", "avx2", "sse4", "portable"]
    assert kernels == sorted(kernels, key=order.index)


def test_auto_takes_the_fastest(monkeypatch):
    monkeypatch.delenv("FLORESTA_KERNEL", raising=False)
    assert floresta.load(f"{DATA}/xgb_binary.json").kernel == floresta.available_kernels()[0]


@pytest.mark.parametrize("name", MODELS)
def test_every_kernel_and_plan_give_the_same_answers(name):
    clusterer = name == "skl_kmeans.json"
    reference = floresta.load(f"{DATA}/{name}", kernel="portable", plan="kmeans" if clusterer else "value_walk")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(700, reference.n_features_in_)) * 3
    X[rng.random(size=X.shape) < 0.1] = np.nan
    if reference._core.is_clusterer:
        X = np.nan_to_num(X)
    score = (lambda m, x: np.hstack([m.transform(x), m.predict(x)[:, None]])) if reference._core.is_clusterer \
        else (lambda m, x: m.predict_raw(x))
    compared = set()
    for kernel in floresta.available_kernels():
        for plan in ("bitvector", "quantized", "lanes", "value_walk", "kmeans"):
            try:
                model = floresta.load(f"{DATA}/{name}", kernel=kernel, plan=plan)
            except ValueError as error:  # a plan this model cannot take, refused by name
                assert f"plan '{plan}' (LoadOptions::plan) cannot score this model" in str(error)
                continue
            assert (model.kernel, model.plan) == (kernel, plan)
            compared.add(plan)
            for batch in (X, X[:5], X[:1]):
                for dtype in (np.float64, np.float32):
                    np.testing.assert_array_equal(score(model, batch.astype(dtype)),
                                                  score(reference, batch.astype(dtype)), err_msg=f"{kernel} {plan}")
    assert floresta.load(f"{DATA}/{name}").plan in compared


def test_environment_variable_and_argument(monkeypatch):
    path = f"{DATA}/xgb_binary.json"
    monkeypatch.setenv("FLORESTA_KERNEL", "portable")
    assert floresta.load(path).kernel == "portable"
    best = floresta.available_kernels()[0]
    assert floresta.load(path, kernel=best).kernel == best  # the argument wins
    monkeypatch.setenv("FLORESTA_KERNEL", "bogus")
    with pytest.raises(ValueError, match=r"unknown kernel 'bogus' \(FLORESTA_KERNEL\)"):
        floresta.load(path)


def test_unknown_and_missing_kernels_are_value_errors(monkeypatch):
    monkeypatch.delenv("FLORESTA_KERNEL", raising=False)
    path = f"{DATA}/xgb_binary.json"
    with pytest.raises(ValueError, match="unknown kernel 'sse9'"):
        floresta.load(path, kernel="sse9")
    available = floresta.available_kernels()
    for name in ("avx512", "avx2", "sse4"):
        if name not in available:
            with pytest.raises(ValueError, match=f"kernel '{name}' .* is not available: this CPU and build have "
                                                 + ", ".join(available)):
                floresta.load(path, kernel=name)


def test_kernel_and_load_options_survive_pickling(monkeypatch):
    monkeypatch.delenv("FLORESTA_KERNEL", raising=False)
    model = floresta.load(f"{DATA}/xgb_binary.json", kernel="portable", max_depth=50, load_threads=1)
    clone = pickle.loads(pickle.dumps(model))
    assert clone.kernel == "portable"
    assert clone._max_depth == 50


def test_plan_argument_environment_and_errors(monkeypatch):
    path = f"{DATA}/xgb_binary.json"
    monkeypatch.delenv("FLORESTA_PLAN", raising=False)
    assert floresta.load(path).plan == "bitvector"  # small trees the bitvector plan expects to score faster
    assert floresta.load(f"{DATA}/skl_isolation_forest.json").plan == "quantized"  # trees of more than 64 leaves
    assert floresta.load(path, quantize=False).plan == "lanes"
    assert floresta.load(f"{DATA}/skl_kmeans.json").plan == "kmeans"
    with pytest.raises(ValueError, match=r"plan 'kmeans' \(LoadOptions::plan\) cannot score this model; it can take "
                                         r"bitvector, quantized, lanes, value_walk"):
        floresta.load(path, plan="kmeans")
    with pytest.raises(ValueError, match=r"unknown plan 'fast' \(LoadOptions::plan\)"):
        floresta.load(path, plan="fast")
    monkeypatch.setenv("FLORESTA_PLAN", "value_walk")
    assert floresta.load(path).plan == "value_walk"
    assert floresta.load(f"{DATA}/skl_kmeans.json").plan == "kmeans"  # a preference: k-means keeps its own
    assert floresta.load(path, plan="lanes").plan == "lanes"  # the argument wins
    assert pickle.loads(pickle.dumps(floresta.load(path, plan="lanes"))).plan == "lanes"
    monkeypatch.setenv("FLORESTA_PLAN", "bogus")
    with pytest.raises(ValueError, match=r"unknown plan 'bogus' \(FLORESTA_PLAN\)"):
        floresta.load(path)


def test_max_depth_refuses_deeper_trees():
    with pytest.raises(ValueError, match="deeper than the limit of 1 levels"):
        floresta.load(f"{DATA}/xgb_binary.json", max_depth=1)
