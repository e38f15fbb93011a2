"""floresta's k-means against scikit-learn: labels identical (random and near-tie data),
distances within 1e-6 relative, score = -inertia."""
import json
import pathlib

import jsonschema
import numpy as np
import pytest
from sklearn.cluster import KMeans, MiniBatchKMeans

import floresta

SCHEMA = json.loads((pathlib.Path(__file__).parents[2] / "docs" / "floresta-model.schema.json").read_text())


def roundtrip(estimator):
    text = floresta.export(estimator)
    jsonschema.validate(json.loads(text), SCHEMA)
    return floresta.load_bytes(text, name="kmeans.json")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k,d", [(7, 2), (7, 64), (3, 33), (12, 20), (2, 41), (1, 17), (64, 16), (256, 8),
                                 (40, 37), (64, 64), (20, 70), (17, 5)])
def test_random_data(parity, dtype, k, d):
    rng = np.random.default_rng(k * d)
    X = rng.normal(size=(4000, d)).astype(dtype)
    km = KMeans(n_clusters=k, n_init=1, max_iter=20, random_state=0).fit(X)
    model = roundtrip(km)
    T = rng.normal(size=(3000, d)).astype(dtype)
    np.testing.assert_array_equal(model.predict(T), km.predict(T))
    expected = km.transform(T)
    actual = model.transform(T)
    relative = np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-3))
    parity(f"kmeans k={k} d={d} {np.dtype(dtype).name} transform (relative)", 0 * relative, relative)
    assert relative <= 1e-6
    assert abs(model.score(T) - km.score(T)) <= 1e-6 * abs(km.score(T))
    assert model.predict(T[:1])[0] == km.predict(T[:1])[0]  # the direct single-row path


@pytest.mark.parametrize("k,d", [(7, 40), (40, 37), (64, 16)])
def test_layouts_agree(k, d):
    # Row-major, column-major and strided views of the same rows: one label each (the kernels
    # read rows by transposes, copies or element by element).
    rng = np.random.default_rng(k + d)
    km = KMeans(n_clusters=k, n_init=1, max_iter=10, random_state=0).fit(rng.normal(size=(2000, d)).astype(np.float32))
    model = roundtrip(km)
    T = rng.normal(size=(1000, d)).astype(np.float32)
    expected = km.predict(T)
    np.testing.assert_array_equal(model.predict(np.asfortranarray(T)), expected)
    wide = np.zeros((1000, 2 * d), dtype=np.float32)
    wide[:, ::2] = T
    np.testing.assert_array_equal(model.predict(wide[:, ::2]), expected)
    tall = np.zeros((2000, d), dtype=np.float32)
    tall[::2] = T
    np.testing.assert_array_equal(model.predict(tall[::2]), expected)


def test_near_ties_take_the_lowest_index():
    # Centres on an integer grid; points exactly halfway between two or four of them.
    T = np.array([[1, 0], [0, 1], [1, 1], [1, 2], [2, 1], [3, 3], [3, 3.0000001], [2.9999999, 3]])
    for dtype in (np.float64, np.float32):  # scikit-learn scores each dtype with centres of that dtype
        centers = np.array([[0, 0], [2, 0], [0, 2], [2, 2], [4, 4]], dtype=dtype)
        km = KMeans(n_clusters=5, n_init=1, init=centers, max_iter=1).fit(centers)
        km.cluster_centers_ = centers.copy()
        model = roundtrip(km)
        rows = T.astype(dtype)
        np.testing.assert_array_equal(model.predict(rows), km.predict(rows))
        big = np.tile(rows, (100, 1))  # the chunked GEMM path
        np.testing.assert_array_equal(model.predict(big), km.predict(big))
        assert list(model.predict(rows[:6])) == [0, 0, 0, 2, 1, 3]


def test_minibatch_kmeans(parity):
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(loc=c, size=(300, 3)) for c in (-5, 0, 5)])
    km = MiniBatchKMeans(n_clusters=3, random_state=0, n_init=3).fit(X)
    model = roundtrip(km)
    np.testing.assert_array_equal(model.predict(X), km.predict(X))
    assert model.n_clusters == 3


def test_kmeans_errors():
    rng = np.random.default_rng(0)
    km = KMeans(n_clusters=3, n_init=1, random_state=0).fit(rng.normal(size=(100, 4)))
    model = roundtrip(km)
    with pytest.raises(ValueError, match="expects 4 features"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="only for classifiers"):
        model.predict_proba(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="not this output"):
        model.predict_raw(np.zeros((2, 4)))
    document = json.loads(floresta.export(km))
    document["kmeans"]["centers"][1] = [1.0, 2.0]
    with pytest.raises(ValueError, match="entries, expected 4"):
        floresta.load_bytes(json.dumps(document))
    document["kmeans"]["centers"][1] = [1.0, 2.0, "nan", 4.0]
    with pytest.raises(ValueError, match="non-finite"):
        floresta.load_bytes(json.dumps(document))
