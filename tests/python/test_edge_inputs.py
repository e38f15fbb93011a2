"""Python edge inputs: every entry point that takes user data (matrix predicts, contributions,
records and explain_record, k-means, pipelines with categorical fields, DataFrames) either
answers as documented — compared with a reference: the same data converted by hand to a
float64 C-contiguous array, an equivalent record, or the training library's own prediction —
or raises ValueError (floresta.FlorestaError) whose message names the problem and where it
is. Never a crash: the cases that once aborted the interpreter run in a subprocess."""
import os
import resource
import subprocess
import sys
import textwrap

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

import floresta

DATA = "tests/data"
LONG = "x" * 10_000_000  # a 10 MB string
F32_MAX = float(np.finfo(np.float32).max)
F64_MAX = float(np.finfo(np.float64).max)


# ---- models, loaded once ----

@pytest.fixture(scope="module")
def binary():  # XGBoost, 8 numeric features f0..f7
    return floresta.load(f"{DATA}/xgb_binary.json")


@pytest.fixture(scope="module")
def categorical():  # XGBoost, categorical bairro/marca (string vocabularies) + 2 numeric
    return floresta.load(f"{DATA}/xgb_multiclass_categorical.ubj")


@pytest.fixture(scope="module")
def lightgbm():  # LightGBM, 5 numeric + a categorical code column
    return floresta.load(f"{DATA}/lgb_binary_categorical.txt")


@pytest.fixture(scope="module")
def pipeline():  # scikit-learn pipeline: encoders for bairro and marca, idade numeric
    return floresta.load(f"{DATA}/skl_pipeline.json")


@pytest.fixture(scope="module")
def segments():  # k-means behind a StandardScaler: recency, frequency, monetary
    return floresta.load(f"{DATA}/skl_kmeans.json")


@pytest.fixture(scope="module")
def theft():  # input rules, explainable: the README's explain_record example
    return floresta.load("examples/models/phone_theft.json")


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    X[rng.random(size=X.shape) < 0.1] = np.nan
    return X


# ---- numpy arrays: dtypes ----

@pytest.mark.parametrize("dtype", ["float16", "int8", "int64", "uint64", "bool", "longdouble", ">f8", ">f4", "<i2"])
def test_numeric_dtypes_score_as_float64(binary, segments, dtype):
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(50, 8)) * 20).astype(dtype)
    reference = np.ascontiguousarray(X, dtype=np.float64)
    np.testing.assert_array_equal(binary.predict_raw(X), binary.predict_raw(reference))
    np.testing.assert_array_equal(binary.predict_proba(X), binary.predict_proba(reference))
    np.testing.assert_array_equal(binary.predict_contributions(X), binary.predict_contributions(reference))
    np.testing.assert_array_equal(segments.predict(X[:, :3]), segments.predict(reference[:, :3]))
    np.testing.assert_array_equal(segments.transform(X[:, :3]), segments.transform(reference[:, :3]))


@pytest.mark.parametrize("dtype", ["complex64", "complex128", "U3", "S3", "datetime64[s]", "timedelta64[ms]", "V8",
                                   [("a", "f8"), ("b", "i4")]])
def test_non_numeric_dtypes_are_refused_by_name(binary, segments, dtype):
    X = np.zeros((2, 8), dtype=dtype)
    for call in (binary.predict, binary.predict_raw, binary.predict_contributions, binary.encode,
                 lambda X: segments.predict(X[:, :3])):
        with pytest.raises(ValueError, match=r"X must hold numbers; got an array of dtype"):
            call(X)


# ---- shapes and sizes ----

def test_wrong_dimensions_are_refused(binary, segments):
    for X, message in [(np.float64(1.0), "2-dimensional, got 0 dimensions"), (np.array(1.0), "got 0 dimensions"),
                       (np.zeros(8), r"2-dimensional \(rows x 8 features\); for one row use X.reshape\(1, -1\)"),
                       (np.zeros((2, 8, 1)), "2-dimensional, got 3 dimensions"),
                       (pd.Series(np.zeros(8)), "2-dimensional"),
                       (np.zeros((2, 7)), "input has 7 columns, the model expects 8 features"),
                       (np.zeros((2, 9), dtype=np.float32), "input has 9 columns, the model expects 8 features"),
                       (np.zeros((3, 0)), "input has 0 columns"), (np.zeros((0, 0)), "input has 0 columns"),
                       ([[]], "input has 0 columns")]:
        for call in (binary.predict, binary.predict_proba, binary.predict_contributions, binary.predict_ranked):
            with pytest.raises(ValueError, match=message):
                call(X)
    for call in (segments.predict, segments.transform, segments.score):
        with pytest.raises(ValueError, match="input has 2 columns, the model expects 3 features"):
            call(np.zeros((4, 2)))


def test_regressors_predict_one_value_a_row_or_a_row_of_values(tmp_path):
    # One output: a 1-D array (as XGBoost's and scikit-learn's predict); several: rows x outputs.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4))
    for targets in (1, 3):
        y = X[:, :targets] * 2 + rng.normal(size=(200, targets)) * 0.1
        booster = xgb.train({"tree_method": "hist", "max_depth": 3, "multi_strategy": "one_output_per_tree"},
                            xgb.DMatrix(X, label=y if targets > 1 else y[:, 0]), 5)
        path = tmp_path / f"regressor_{targets}.json"
        booster.save_model(path)
        model = floresta.load(path)
        expected = booster.predict(xgb.DMatrix(X))
        for rows in (X, X[:1], X.astype(np.float32)[:7], X[:0]):
            got = model.predict(rows)
            assert got.shape == ((len(rows),) if targets == 1 else (len(rows), targets))
            assert got.flags.writeable and got.dtype == np.float64
        np.testing.assert_allclose(model.predict(X), expected, rtol=1e-6, atol=1e-6)


def test_zero_rows_give_empty_answers(binary, categorical, segments, pipeline):
    isolation = floresta.load(f"{DATA}/skl_isolation_forest.json")
    for empty in (np.zeros((0, 8)), np.zeros((0, 8), dtype=np.float32), [], (),
                  pd.DataFrame(np.zeros((0, 8)), columns=[f"f{i}" for i in range(8)])):
        assert binary.predict(empty).shape == (0,)
        assert binary.predict_raw(empty).shape == (0, 1)
        assert binary.predict_proba(empty).shape == (0, 2)
        assert binary.predict_contributions(empty).shape == (0, 9)
        assert binary.decision_function(empty).shape == (0,)
        assert binary.predict_ranked(empty) == []
        assert binary.encode(empty).shape == (0, 8)
    assert categorical.predict_contributions(np.zeros((0, 4))).shape == (0, 10, 5)
    assert segments.predict(np.zeros((0, 3))).shape == (0,)
    assert segments.transform(np.zeros((0, 3))).shape == (0, 7)
    assert segments.score(np.zeros((0, 3))) == 0.0
    assert isolation.score_samples(np.zeros((0, 3))).shape == (0,)
    assert isolation.decision_function([]).shape == (0,)
    empty_frame = pd.DataFrame({"bairro": pd.Series([], dtype=object), "marca": pd.Series([], dtype="category"),
                                "idade": pd.Series([], dtype=float)})
    assert pipeline.predict_proba(empty_frame).shape == (0, 3)
    assert pipeline.predict_proba([]).shape == (0, 3)


# ---- layouts: non-contiguous, read-only, unaligned, broadcast ----

def _layouts(X):
    """Views of the same rows in other memory layouts."""
    wide = np.zeros((X.shape[0], 2 * X.shape[1]), dtype=X.dtype)
    wide[:, ::2] = X
    tall = np.zeros((2 * X.shape[0], X.shape[1]), dtype=X.dtype)
    tall[::2] = X
    readonly = X.copy()
    readonly.flags.writeable = False
    raw = np.zeros(X.nbytes + 1, dtype=np.uint8)[1:]  # one byte off: not aligned to the item size
    unaligned = raw.view(X.dtype).reshape(X.shape)
    unaligned[:] = X
    assert not unaligned.flags.aligned
    return {"sliced columns": wide[:, ::2], "sliced rows": tall[::2], "fortran": np.asfortranarray(X),
            "transposed": np.ascontiguousarray(X.T).T, "reversed rows": X[::-1], "reversed columns": X[:, ::-1], "readonly": readonly, "unaligned": unaligned}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layouts_score_as_c_contiguous(binary, segments, rows, dtype):
    X = rows.astype(dtype)
    for name, view in _layouts(X).items():
        flip_rows, flip_cols = name == "reversed rows", name == "reversed columns"
        reference = np.ascontiguousarray(view)
        for call in (binary.predict_raw, binary.predict_proba, binary.predict_contributions):
            np.testing.assert_array_equal(call(view), call(reference), err_msg=name)
        finite = np.nan_to_num(view[:, :3])
        np.testing.assert_array_equal(segments.predict(finite), segments.predict(np.ascontiguousarray(finite)))
        np.testing.assert_array_equal(segments.transform(finite), segments.transform(np.ascontiguousarray(finite)))
        assert segments.score(finite) == segments.score(np.ascontiguousarray(finite))
        if flip_rows:
            np.testing.assert_array_equal(binary.predict_raw(view)[::-1], binary.predict_raw(X), err_msg=name)
        if not flip_rows and not flip_cols:
            np.testing.assert_array_equal(binary.predict_raw(view), binary.predict_raw(X), err_msg=name)


def test_broadcast_rows_and_odd_strides(binary, segments, rows):
    one = np.nan_to_num(rows[0])
    broadcast = np.broadcast_to(one, (400, 8))  # a zero row stride: every row the same memory
    np.testing.assert_array_equal(binary.predict_raw(broadcast), binary.predict_raw(np.tile(one, (400, 1))))
    np.testing.assert_array_equal(binary.predict_contributions(broadcast),
                                  binary.predict_contributions(np.tile(one, (400, 1))))
    np.testing.assert_array_equal(segments.predict(broadcast[:, :3]), segments.predict(np.tile(one[:3], (400, 1))))
    # A view whose strides are not a multiple of the item size (a field of a packed record array).
    packed = np.zeros(100, dtype=[("a", "f8"), ("b", "i4")])
    odd = np.lib.stride_tricks.as_strided(packed["a"], shape=(6, 8), strides=(8 * 12, 12))
    with pytest.raises(ValueError, match="strides that are not a multiple of its item size; pass np.ascontiguousarray"):
        binary.predict_raw(odd)


# ---- object arrays and nested lists ----

def test_object_arrays_of_numbers_and_missing_values(binary, rows):
    X = np.nan_to_num(rows[:20])
    as_objects = X.astype(object)
    np.testing.assert_array_equal(binary.predict_raw(as_objects), binary.predict_raw(X))
    mixed = as_objects.copy()
    mixed[0, 0], mixed[1, 1], mixed[2, 2], mixed[3, 3] = None, pd.NA, np.float32(0.5), True
    mixed[4, 4], mixed[5, 5] = 2**70, np.int64(7)
    expected = X.copy()
    expected[0, 0], expected[1, 1], expected[2, 2], expected[3, 3] = np.nan, np.nan, 0.5, 1.0
    expected[4, 4], expected[5, 5] = float(2**70), 7.0
    np.testing.assert_array_equal(binary.predict_raw(mixed), binary.predict_raw(expected))
    np.testing.assert_array_equal(binary.predict_contributions(mixed), binary.predict_contributions(expected))
    # Lists of rows read the same way: None is a missing value, big ints are numbers.
    np.testing.assert_array_equal(binary.predict_raw([[None] * 8, [2**70] * 8]),
                                  binary.predict_raw(np.array([[np.nan] * 8, [float(2**70)] * 8])))


@pytest.mark.parametrize("value, message", [
    ("1", r"X\[1, 3\] holds a str; X must hold numbers or None"), (b"1", r"X\[1, 3\] holds a bytes"),
    ([1.0], r"X\[1, 3\] holds a list"), ({"a": 1}, r"X\[1, 3\] holds a dict"), (1j, r"X\[1, 3\] holds a complex"),
    (np.complex128(1), r"X\[1, 3\] holds a complex128"), (10**400, r"X\[1, 3\] holds an integer too large for a float64"),
    (object(), r"X\[1, 3\] holds a object")])
def test_object_arrays_with_other_values_are_refused_by_position(binary, segments, value, message):
    X = np.zeros((3, 8), dtype=object)
    X[1, 3] = value
    for call in (binary.predict_raw, binary.predict_contributions, binary.encode):
        with pytest.raises(ValueError, match=message):
            call(X)
    with pytest.raises(ValueError, match=message.replace(r"X\[1, 3\]", r"X\[1, 2\]")):
        segments.predict(X[:, 1:4])  # a view: the value is at [1, 2] of what was passed


def test_ragged_and_mixed_lists_are_refused(binary, pipeline):
    with pytest.raises(ValueError, match="X cannot be read as a rows x features array: .*inhomogeneous"):
        binary.predict_raw([[1.0] * 8, [1.0] * 7])
    with pytest.raises(ValueError, match="X mixes records \\(dicts\\) with other rows: item 1 is a int"):
        pipeline.predict_proba([{"idade": 3}, 1])
    with pytest.raises(ValueError, match="item 0 is a list"):
        pipeline.predict_proba([[1, 2, 3], {"idade": 3}])
    with pytest.raises(ValueError, match="2-dimensional"):
        binary.predict_raw(row for row in np.zeros((2, 8)))  # a generator is not an array


# ---- values: NaN, infinities, huge numbers ----

def test_extreme_values_match_xgboost(binary):
    """XGBoost compares float32 inputs: ±inf and anything past float32's range act as ±float32
    max (XGBoost's DMatrix refuses inf itself, so the reference gets the clipped value)."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(12, 8))
    X[0], X[1], X[2], X[3], X[4], X[5] = np.inf, -np.inf, 1e308, -1e308, F64_MAX, -F64_MAX
    X[6], X[7], X[8, ::2], X[9] = F32_MAX, 5e-324, np.nan, 2.0**53 + 1
    X[10, :4], X[10, 4:] = np.inf, -np.inf
    X[11] = np.nan
    clipped = np.clip(np.where(np.isnan(X), np.nan, X), -F32_MAX, F32_MAX)
    booster = xgb.Booster(model_file=f"{DATA}/xgb_binary.json")
    expected = booster.predict(xgb.DMatrix(clipped), output_margin=True)
    np.testing.assert_array_equal(binary.predict_raw(X)[:, 0], expected)
    with np.errstate(over="ignore"):  # float64 values past float32's range become ±inf: the same answer
        np.testing.assert_array_equal(binary.predict_raw(X.astype(np.float32))[:, 0], expected)
    contributions = binary.predict_contributions(X)
    assert np.isfinite(contributions).all()
    np.testing.assert_allclose(contributions.sum(axis=1), binary.predict_raw(X)[:, 0], rtol=0, atol=1e-5)


def test_extreme_values_and_category_codes_match_lightgbm(lightgbm):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(14, 6))
    X[0, :5], X[1, :5], X[2, :5], X[3, :5], X[4, :5] = np.inf, -np.inf, 1e308, -1e308, np.nan
    X[5:, 5] = [F64_MAX, -5, 2.0**40, np.inf, -np.inf, np.nan, 1.5, 2.0**63, 2.0**64]
    booster = lgb.Booster(model_file=f"{DATA}/lgb_binary_categorical.txt")
    np.testing.assert_array_equal(lightgbm.predict_raw(X)[:, 0], booster.predict(X, raw_score=True))
    np.testing.assert_array_equal(lightgbm.predict_proba(X)[:, 1], booster.predict(X))
    contributions = lightgbm.predict_contributions(X)
    np.testing.assert_allclose(contributions, booster.predict(X, pred_contrib=True), rtol=0, atol=1e-9)


def test_extreme_category_codes_in_a_pipeline(pipeline):
    """A pipeline's encoder reads codes: a code that is not one of its categories (huge,
    negative, fractional, infinite) is an unseen category, NaN a missing value."""
    unseen = pipeline.predict_proba(np.array([[99.0, 1, 30.0]]))
    missing = pipeline.predict_proba(np.array([[np.nan, 1, 30.0]]))
    for code in (-1.0, 1.5, np.inf, -np.inf, 1e308, -F64_MAX, 2.0**53 + 2, 2.0**63, 2.0**64):
        np.testing.assert_array_equal(pipeline.predict_proba(np.array([[code, 1, 30.0]])), unseen, err_msg=str(code))
    np.testing.assert_array_equal(pipeline.predict_proba({"marca": "Motorola", "idade": 30.0}), missing)


# ---- k-means: missing values and infinities ----

def _kmeans(dtype=np.float64):
    X = np.random.default_rng(4).normal(size=(400, 3)).astype(dtype)
    km = KMeans(n_clusters=5, n_init=1, random_state=0).fit(X)
    return km, floresta.load_bytes(floresta.export(km), name="kmeans.json")


@pytest.fixture(scope="module")
def kmeans():
    return _kmeans()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_huge_finite_values_follow_scikit_learn(dtype):
    km, model = _kmeans(dtype)
    values = [1e30, -1e30, 3e38, -3e38, 1e20] + ([1e200, 1e308, -1e308] if dtype == np.float64 else [])
    for v in values:
        X = np.full((2, 3), v, dtype=dtype)
        X[1, 0] = -v
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(model.predict(X), km.predict(X), err_msg=str(v))


def test_kmeans_refuses_rows_without_a_nearest_centre(kmeans, segments):
    """NaN and ±inf have no nearest centre: scikit-learn refuses them; floresta used to give
    such a row centre 0 silently."""
    _, model = kmeans
    for bad, named in [(np.nan, "x1=nan"), (np.inf, "x1=inf"), (-np.inf, "x1=-inf")]:
        X = np.zeros((4, 3))
        X[2, 1] = bad
        for data in (X, X.astype(np.float32), np.asfortranarray(X)):
            with pytest.raises(ValueError, match=rf"row 2 \({named}\) has no nearest centre: k-means has no rule"):
                model.predict(data)
        assert not np.isfinite(model.transform(X)[2]).any()  # the distances say so themselves
    with pytest.raises(ValueError, match="row 1 .* has no nearest centre"):  # records: a missing field
        segments.predict([{"recency": 1, "frequency": 2, "monetary": 3}, {"recency": 1}])
    with pytest.raises(ValueError, match=r"row 1 \(recency=nan\)"):  # a DataFrame's pd.NA
        segments.predict(pd.DataFrame({"recency": pd.array([1, None], dtype="Int64"), "frequency": [1.0, 2.0],
                                       "monetary": [3.0, 4.0]}))
    np.testing.assert_array_equal(segments.predict([{"recency": 1, "frequency": 2, "monetary": 3}]),
                                  segments.predict(np.array([[1.0, 2.0, 3.0]])))


def test_kmeans_pipeline_that_imputes_takes_missing_values():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    X[rng.random(size=X.shape) < 0.1] = np.nan
    pipe = Pipeline([("impute", SimpleImputer()), ("km", KMeans(n_clusters=4, n_init=1, random_state=0))]).fit(X)
    model = floresta.load_bytes(floresta.export(pipe))
    np.testing.assert_array_equal(model.predict(X), pipe.predict(X))


# ---- threads ----

@pytest.mark.parametrize("threads", [0, 1, 2, 3, 2**31 - 1, 2**40, np.int64(4), True])
def test_thread_counts_give_the_same_answers(threads):
    X = np.random.default_rng(6).normal(size=(2000, 8))
    model = floresta.load(f"{DATA}/xgb_binary.json", n_threads=threads, load_threads=threads)
    reference = floresta.load(f"{DATA}/xgb_binary.json")
    np.testing.assert_array_equal(model.predict_raw(X), reference.predict_raw(X))
    np.testing.assert_array_equal(model.predict_contributions(X), reference.predict_contributions(X))
    segments = floresta.load(f"{DATA}/skl_kmeans.json", n_threads=threads)
    assert segments.score(X[:, :3]) == floresta.load(f"{DATA}/skl_kmeans.json").score(X[:, :3])
    assert model.n_threads == threads


@pytest.mark.parametrize("threads, message", [
    (-1, "n_threads must be 0 \\(one thread per core\\) or a positive thread count, got -1"),
    (-(2**40), "got -1099511627776"), (2.5, "n_threads must be an integer .*got 2.5"), ("2", "got '2'"),
    (None, "got None"), ([2], "got \\[2\\]")])
def test_bad_thread_counts_are_refused(binary, threads, message):
    with pytest.raises(ValueError, match=message):
        floresta.load(f"{DATA}/xgb_binary.json", n_threads=threads)
    with pytest.raises(ValueError, match=message.replace("n_threads", "load_threads")):
        floresta.load(f"{DATA}/xgb_binary.json", load_threads=threads)
    with pytest.raises(ValueError, match=message):
        binary.n_threads = threads
    assert binary.n_threads == 1  # the old value is kept


def _run_isolated(code, memory_limit=None):
    """Runs `code` in a fresh interpreter (so a crash fails this test, not pytest itself);
    returns its stdout, failing with its exit status and stderr unless it exited 0."""
    def limit():
        if memory_limit:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=120, env=env, preexec_fn=limit, cwd=os.getcwd())
    assert result.returncode == 0, f"exit status {result.returncode} (a negative one is a signal)\n{result.stderr[-3000:]}"
    return result.stdout


def test_a_huge_thread_count_does_not_abort_the_interpreter():
    """n_threads=2**31-1 on a big batch used to start one thread per 256 rows; where one of
    them could not start, std::terminate aborted Python. Under a memory limit that holds a few
    hundred thread stacks, 4M rows (15,625 threads uncapped) must score."""
    stack = resource.getrlimit(resource.RLIMIT_STACK)[0]
    stack = 8 << 20 if stack in (resource.RLIM_INFINITY, -1) else stack
    limit = (2 << 30) + 2 * (os.cpu_count() or 1) * stack  # the interpreter and a thread per core
    out = _run_isolated(f"""
        import numpy as np, floresta
        model = floresta.load("{DATA}/xgb_binary.json", n_threads=2**31 - 1, load_threads=2**31 - 1)
        X = np.broadcast_to(np.float32(0.25), (4_000_000, 8))
        out = model.predict_raw(X)
        assert out.shape == (4_000_000, 1) and (out == out[0]).all()
        print("scored", model.predict_contributions(X[:300_000]).shape)
        """, memory_limit=limit)
    assert "scored (300000, 9)" in out


# ---- records: values ----

BASE = {"bairro": "SE", "marca": "Apple", "idade": 30.0}


@pytest.mark.parametrize("value, message", [
    ({"a": 1}, "holds a dict"), ([1], "holds a list"), ((1,), "holds a tuple"), ({1}, "holds a set"),
    (b"SE", "holds a bytes"), (b"\xff", "holds a bytes"), (bytearray(b"SE"), "holds a bytearray"),
    ("\ud800", "is a string that is not valid Unicode"), ("S\udce9", "is a string that is not valid Unicode"),
    (10**400, "holds an integer too large for a float64"), (np.array([1.0, 2.0]), "holds a ndarray that is not one number"),
    (1j, "holds a complex"), (pd.Timestamp("2020-01-01"), "holds a Timestamp")])
@pytest.mark.parametrize("field", ["bairro", "idade"])
def test_record_values_that_are_refused(pipeline, field, value, message):
    record = dict(BASE, **{field: value})
    with pytest.raises(ValueError, match=rf"record 1: field '{field}' {message}"):
        pipeline.predict_proba([BASE, record])
    with pytest.raises(ValueError, match=rf"field '{field}' {message}"):
        pipeline.encode(record)


def test_record_missing_values_and_numbers(pipeline, categorical):
    without = {"marca": "Apple", "idade": 30.0}
    for missing in (None, float("nan"), np.nan, pd.NA, np.float32("nan")):
        np.testing.assert_array_equal(pipeline.predict_proba(dict(BASE, bairro=missing)), pipeline.predict_proba(without))
        np.testing.assert_array_equal(pipeline.predict_proba(dict(BASE, idade=missing)),
                                      pipeline.predict_proba({"bairro": "SE", "marca": "Apple"}))
    codes = pipeline.encode(BASE)[0, :2]
    for huge in (1e308, -1e308, F64_MAX, 2**1000, -(2**1023), np.float64(1e308), 2.0**53 + 1):
        reference = pipeline.predict_proba(np.array([[*codes, float(huge)]]))
        np.testing.assert_array_equal(pipeline.predict_proba(dict(BASE, idade=huge)), reference)
    for same in (30, np.int64(30), np.float32(30), np.array(30.0), 30.0 + 0j.real, True * 30):
        np.testing.assert_array_equal(pipeline.predict_proba(dict(BASE, idade=same)), pipeline.predict_proba(BASE))
    np.testing.assert_array_equal(pipeline.predict_proba(dict(BASE, bairro=np.str_("SE"))), pipeline.predict_proba(BASE))
    for inf in (np.inf, -np.inf):
        expected = pipeline.predict_proba(np.array([[*codes, inf]]))
        np.testing.assert_array_equal(pipeline.predict_proba(dict(BASE, idade=inf)), expected)
    # A number where the model wants one of its string categories: refused by name (README).
    with pytest.raises(floresta.InputError, match="field 'bairro' takes one of its categories as a string; got the number inf"):
        pipeline.predict_proba(dict(BASE, bairro=np.inf))
    with pytest.raises(floresta.InputError, match="field 'bairro' takes .* got the number 1.18059e\\+21"):
        categorical.predict_proba({"bairro": 2**70})


def test_long_strings_as_values(pipeline, categorical, theft):
    # Unknown categories: as trained (unseen) by default, a short InputError under "error".
    np.testing.assert_array_equal(pipeline.predict_proba(dict(BASE, bairro=LONG)),
                                  pipeline.predict_proba(dict(BASE, bairro="never seen")))
    record = {"bairro": LONG, "marca": "Apple", "idade": 3, "hora": 2}
    np.testing.assert_array_equal(categorical.predict_proba(record), categorical.predict_proba(dict(record, bairro=None)))
    strict = floresta.load(f"{DATA}/xgb_multiclass_categorical.ubj", unknown_category="error")
    with pytest.raises(ValueError, match="bairro") as caught:
        strict.predict_proba(record)
    assert len(str(caught.value)) < 1000
    for model, field in ((pipeline, "idade"), (theft, "idade"), (theft, "bairro")):
        with pytest.raises(floresta.InputError, match=field) as caught:
            model.predict_proba(dict(BASE, **{field: LONG}))
        assert len(str(caught.value)) < 1000


# ---- records: keys ----

@pytest.mark.parametrize("key, message", [
    (b"bairro", "record field names must be strings; got the bytes key b'bairro'"),
    (b"\xff", r"got the bytes key b'\\xff'"), (1, "got the int key 1"), (None, "got the NoneType key None"),
    (("bairro",), r"got the tuple key \('bairro',\)"), (float("nan"), "got the float key nan"),
    ("\ud800", "a field name is a string that is not valid Unicode")])
def test_record_keys_that_are_refused(pipeline, theft, key, message):
    """A non-string key used to become str(key) ("b'bairro'", "1"), an unknown field ignored
    by default: the feature it meant was then scored as missing, silently."""
    for extra_fields in ("ignore", "error"):
        model = floresta.load(f"{DATA}/skl_pipeline.json", extra_fields=extra_fields)
        with pytest.raises(ValueError, match=rf"record 0: .*{message}"):
            model.predict_proba({key: 1, **BASE})
    with pytest.raises(ValueError, match=message):
        theft.explain_record({key: "SE", "marca": "Apple"})


def test_long_keys(pipeline):
    np.testing.assert_array_equal(pipeline.predict_proba({LONG: 1, **BASE}), pipeline.predict_proba(BASE))
    for key in ("é" * 1000, "x" + "ã" * 1000, LONG):  # named in messages clipped, still valid text
        with pytest.raises(ValueError, match=r"record 0: field '.{20,80}\.\.\.' holds a dict") as caught:
            pipeline.predict_proba({key: {"a": 1}, **BASE})
        assert len(str(caught.value)) < 200
    with pytest.raises(ValueError, match=r"got the bytes key b'\\xff\\xff.*\.\.\.$"):
        pipeline.predict_proba({b"\xff" * 1000: 1})
    strict = floresta.load(f"{DATA}/skl_pipeline.json", extra_fields="error")
    with pytest.raises(ValueError, match="is not one of the model's features"):
        strict.predict_proba({LONG: 1, **BASE})
    np.testing.assert_array_equal(pipeline.predict_proba({np.str_("bairro"): "SE", "marca": "Apple", "idade": 30.0}),
                                  pipeline.predict_proba(BASE))


# ---- explain_record ----

PERSON = {"bairro": "SE", "marca": "Apple", "idade": 30}


def test_explain_record_edge_values(theft):
    full = theft.explain_record(PERSON)
    assert theft.explain_record(PERSON, k=None) == full
    assert theft.explain_record(PERSON, k=10**30) == full  # more than the fields: all of them
    assert theft.explain_record(PERSON, k=np.int64(2)) == full[:2]
    assert theft.explain_record(PERSON, k=0) == []  # the top 0 (the core's 0 used to mean all)
    assert theft.explain_record(dict(PERSON, idade=pd.NA)) == theft.explain_record(dict(PERSON, idade=None))
    for value, message in [({"a": 1}, "field 'marca' holds a dict"), (b"\xff", "field 'marca' holds a bytes"),
                           ("\ud800", "field 'marca' is a string that is not valid Unicode")]:
        with pytest.raises(ValueError, match=message):
            theft.explain_record(dict(PERSON, marca=value))
    with pytest.raises(floresta.InputError, match="field 'idade': inf is outside the valid range"):
        theft.explain_record(dict(PERSON, idade=np.inf))
    for k, message in [(-1, "k must be None or a count >= 0, got -1"), (1.5, "got 1.5"), ("3", "got '3'")]:
        with pytest.raises(ValueError, match=message):
            theft.explain_record(PERSON, k=k)
    n = theft.n_outputs_
    for output, message in [(-1, rf"output must be None or an output index in \[0, {n}\), got -1"),
                            (n, f"output {n} out of range for a model of {n} outputs"),
                            (2**70, "out of range"), (0.5, "got 0.5")]:
        with pytest.raises(ValueError, match=message):
            theft.explain_record(PERSON, output=output)
    with pytest.raises(ValueError, match="explain_record takes one record"):
        theft.explain_record([PERSON])


# ---- DataFrames ----

COLUMNS = [f"f{i}" for i in range(8)]


def test_dataframe_columns_by_name(binary, rows):
    frame = pd.DataFrame(rows, columns=COLUMNS)
    expected = binary.predict_raw(rows)
    np.testing.assert_array_equal(binary.predict_raw(frame[COLUMNS[::-1]]), expected)  # misordered: by name
    np.testing.assert_array_equal(binary.predict_raw(frame.assign(extra=1.0, other="text")), expected)  # ignored
    doubled = pd.concat([frame, frame[["f1"]].set_axis(["z"], axis=1), frame[["f1"]].set_axis(["z"], axis=1)], axis=1)
    np.testing.assert_array_equal(binary.predict_raw(doubled), expected)  # a duplicated extra column: ignored
    np.testing.assert_array_equal(binary.predict_contributions(frame[COLUMNS[::-1]]), binary.predict_contributions(rows))
    with pytest.raises(ValueError, match=r"DataFrame lacks the model's feature column\(s\) \['f3'\]"):
        binary.predict_raw(frame.drop(columns="f3"))
    with pytest.raises(ValueError, match=r"lacks the model's feature column\(s\) \['f0', 'f1'"):
        binary.predict_raw(pd.DataFrame(rows))  # integer column names are not the features' names
    with pytest.raises(ValueError, match=r"column\(s\) \['extra'\] are not among the model's features"):
        floresta.load(f"{DATA}/xgb_binary.json", extra_fields="error").predict_raw(frame.assign(extra=1.0))
    with pytest.raises(ValueError, match="DataFrame column name 'f2' selects 2 columns \\(duplicate names"):
        binary.predict_raw(pd.concat([frame, frame[["f2"]]], axis=1))
    with pytest.raises(ValueError, match="DataFrame column name 'f0' selects 1 columns .*MultiIndex"):
        binary.predict_raw(pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples([(c, "a") for c in COLUMNS])))
    with pytest.raises(ValueError, match="lacks the model's feature column"):
        binary.predict_raw(pd.DataFrame())


def test_dataframe_numeric_dtypes(binary, rows):
    X = np.nan_to_num(rows[:6])
    frame = pd.DataFrame(X, columns=COLUMNS)
    with_gaps = X.copy()
    with_gaps[1::2, 0] = np.nan
    with_gaps[:, 0] = np.where(np.isnan(with_gaps[:, 0]), np.nan, 1.0)
    for column in (pd.array([1, None] * 3, dtype="Int64"), pd.array([1.0, None] * 3, dtype="Float64"),
                   pd.array([True, None] * 3, dtype="boolean"), pd.Series([1, None] * 3, dtype=object),
                   pd.Series([1, pd.NA] * 3, dtype=object)):
        np.testing.assert_array_equal(binary.predict_raw(frame.assign(f0=column)), binary.predict_raw(with_gaps))
    np.testing.assert_array_equal(binary.predict_raw(frame.astype({"f0": "float16", "f1": "int64"})),
                                  binary.predict_raw(frame.astype({"f0": "float16", "f1": "int64"}).to_numpy(float)))
    np.testing.assert_array_equal(binary.predict_raw(frame.assign(f0=2**70)),
                                  binary.predict_raw(frame.assign(f0=float(2**70)).to_numpy()))
    np.testing.assert_array_equal(binary.predict_raw(frame.assign(f0=np.uint64(2**64 - 1))),
                                  binary.predict_raw(frame.assign(f0=float(2**64 - 1)).to_numpy()))
    sparse = frame.astype(pd.SparseDtype(float, 0.0))
    np.testing.assert_array_equal(binary.predict_raw(sparse), binary.predict_raw(X))
    for column, message in [
            (pd.Timestamp("2020-01-01"), "column 'f0' must hold numbers; it has dtype datetime64"),
            (pd.Timestamp("2020-01-01", tz="UTC"), "it has dtype datetime64"),
            (pd.Timedelta("1D"), "column 'f0' must hold numbers; it has dtype timedelta64"),
            (np.complex128(1 + 1j), "it has dtype complex128"), (pd.Period("2020-01"), "it has dtype period"),
            (pd.Series([1j] * 6, dtype=object), "column 'f0' must hold numbers: complex numbers"),
            (pd.Series([10**400] * 6, dtype=object), "column 'f0' must hold numbers: int too large"),
            (pd.Series([[1]] * 6, dtype=object), "column 'f0' must hold numbers"),
            (pd.Series([b"\xff"] * 6, dtype=object), "column 'f0' must hold numbers"),
            (pd.Series(["high"] * 6, dtype="string"), "column 'f0' must hold numbers"),
            (pd.Categorical(["a"] * 6), "column 'f0' is categorical but the model treats feature 'f0' as numeric")]:
        with pytest.raises(ValueError, match=message):
            binary.predict_raw(frame.assign(f0=column))


def test_dataframe_categorical_columns(pipeline, categorical):
    people = [dict(BASE), {"bairro": "LIBERDADE", "marca": "Samsung", "idade": 40.0},
              {"bairro": None, "marca": "Xiaomi", "idade": None}, {"bairro": "??", "marca": None, "idade": 20.0},
              {"bairro": LONG, "marca": "Apple", "idade": 1e308}]
    expected = pipeline.predict_proba(people)
    frame = pd.DataFrame(people).astype({"bairro": object, "marca": object})
    np.testing.assert_array_equal(pipeline.predict_proba(frame), expected)
    np.testing.assert_array_equal(pipeline.predict_proba(frame[["idade", "marca", "bairro"]]), expected)
    np.testing.assert_array_equal(pipeline.predict_proba(frame.astype({"bairro": "category", "marca": "category"})),
                                  expected)
    reversed_categories = frame.astype({"bairro": pd.CategoricalDtype(sorted(set(frame["bairro"].dropna()))[::-1])})
    np.testing.assert_array_equal(pipeline.predict_proba(reversed_categories), expected)
    np.testing.assert_array_equal(pipeline.predict_proba(frame.astype({"bairro": "string", "marca": "string"})), expected)
    np.testing.assert_array_equal(pipeline.predict_proba(frame.assign(idade=pd.array([30, 40, None, 20, None],
                                                                                     dtype="Int64"))[:4]),
                                  expected[:4])
    with pytest.raises(ValueError, match="DataFrame column name 'bairro' selects 2 columns"):
        pipeline.predict_proba(pd.concat([frame, frame[["bairro"]]], axis=1))
    with pytest.raises(ValueError, match=r"lacks the model's feature column\(s\) \['bairro'\]"):
        pipeline.predict_proba(frame.drop(columns="bairro"))
    for column, message in [
            (pd.Series(["\ud800"] * 5, dtype=object), "column 'bairro' holds a string that is not valid Unicode"),
            (pd.Series([b"\xff"] * 5, dtype=object), "field 'bairro' holds a bytes"),
            (pd.Series([["SE"]] * 5, dtype=object), "column 'bairro' must hold categories .*unhashable type: 'list'"),
            (pd.Series([{"a": 1}] * 5, dtype=object), "column 'bairro' must hold categories .*unhashable"),
            (pd.Series(["SE", 1, 2.5, None, "SE"], dtype=object), "field 'bairro' takes one of its categories as a string"),
            (pd.Categorical([1, 2, 3, 1, 2]), "field 'bairro' takes one of its categories as a string; got the number 1"),
            (pd.Series([pd.Timestamp(0)] * 5), "column 'bairro' must hold category codes or categories; it has dtype")]:
        with pytest.raises(ValueError, match=message):
            pipeline.predict_proba(frame.assign(bairro=column))
    # Numbers for a categorical feature are its codes, as in a numpy array.
    codes = pipeline.encode(people)
    np.testing.assert_array_equal(pipeline.predict_proba(frame.assign(bairro=codes[:, 0])), expected)
    # XGBoost's own categorical features: DataFrames, records and contributions agree.
    record = {"bairro": "B01", "marca": "Apple", "idade": 3.0, "hora": 2.0}
    cats = pd.DataFrame([record, dict(record, bairro=LONG), dict(record, marca=None)])
    as_category = cats.astype({"bairro": "category", "marca": "category"})
    np.testing.assert_array_equal(categorical.predict_proba(cats), categorical.predict_proba(cats.to_dict("records")))
    np.testing.assert_array_equal(categorical.predict_contributions(as_category),
                                  categorical.predict_contributions(cats.to_dict("records")))
    with pytest.raises(ValueError, match="column 'bairro' holds a string that is not valid Unicode"):
        categorical.predict_proba(cats.astype({"bairro": object}).assign(bairro=pd.Series(["\ud800"] * 3, dtype=object)))


def test_records_from_a_dataframe_with_nullable_columns(pipeline):
    """Records from nullable columns may hold pd.NA (DataFrame.itertuples, .iloc[i].to_dict(),
    object columns): a missing value, as in the frame."""
    frame = pd.DataFrame({"bairro": pd.array(["SE", None], dtype="string"), "marca": ["Apple", "Samsung"],
                          "idade": pd.array([30, None], dtype="Int64")})
    records = [dict(BASE), {"bairro": pd.NA, "marca": "Samsung", "idade": pd.NA}]
    expected = pipeline.predict_proba([dict(BASE), {"bairro": None, "marca": "Samsung"}])
    np.testing.assert_array_equal(pipeline.predict_proba(records), expected)
    np.testing.assert_array_equal(pipeline.predict_proba(frame), expected)
    np.testing.assert_array_equal(pipeline.predict_proba(frame.to_dict("records")), expected)
    np.testing.assert_array_equal(pipeline.predict_proba(frame.astype(object)), expected)


def test_the_error_class_is_value_error_with_no_traceback_noise(binary):
    """Every refusal above is a floresta.FlorestaError (a ValueError); spot-check the chain."""
    for bad in (np.full((2, 8), "a", dtype=object), [[1.0] * 8, [1.0]], pd.DataFrame({"f0": [1j]})):
        with pytest.raises(floresta.FlorestaError) as caught:
            binary.predict_raw(bad)
        assert caught.value.__cause__ is None
    np.testing.assert_array_equal(binary.predict_raw(np.zeros((1, 8))), binary.predict_raw([[0.0] * 8]))
