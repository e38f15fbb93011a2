"""Regenerates the compatibility corpus: small models written by OLD XGBoost and LightGBM
releases, each with the outputs that release itself computed, so that floresta is checked
against every file layout those releases wrote (tests/cpp/test_compat_corpus.cpp and
tests/python/test_compat_corpus.py score every file found here).

NOT run by `make test`: it needs PyPI (it creates one virtual environment per release) and a
few minutes. The committed files are its output; run it again only to add a release or a case.

    python3 tests/data/compat/make_compat_corpus.py            # every release in RELEASES
    python3 tests/data/compat/make_compat_corpus.py xgboost-1.7.6 lightgbm-4.3.0   # some

How it works
- RELEASES (below) lists (library, version, pins): adding a release is one line.
- For each, a virtual environment is made with `python -m venv` (the Python running this
  script; FLORESTA_COMPAT_PYTHON overrides it) in $FLORESTA_COMPAT_CACHE or
  ~/.cache/floresta-compat/<library>-<version>, and reused while its pins are unchanged. The
  pins (numpy, scipy, pandas) are installed first, as wheels only, then the library itself
  with --no-deps (XGBoost >= 2.1 would otherwise pull the ~200 MB CUDA NCCL wheel, which
  nothing here uses; the model files do not depend on it).
- That venv's python runs this same file with `--worker LIBRARY VERSION OUTDIR`: the worker
  part imports only numpy (+ pandas for XGBoost categorical data) and the library, draws its
  data from np.random.RandomState (a stream numpy keeps identical across versions), trains
  each case with fixed seeds and one thread, and writes under tests/data/compat/<lib>-<version>/:
      <case>.<ext>                 the model file as that release's save_model wrote it
      <case>.<ext>.vectors.json    the reference outputs for exactly that model file
  Every model file F has its own F.vectors.json (XGBoost cases save .json and, from 1.6 on,
  .ubj from the same booster). The vectors format is the one of tests/data/*.vectors.json
  (tests/data/make_test_vectors.py): {"model": F (relative to the vectors file's folder),
  "library", "version", "inputs": rows (null = NaN), "raw", then "proba" (classifiers:
  [1 - p, p] for binary) or "value" (regression), and "label" (classifiers: the class index,
  p > 0.5 for binary, argmax otherwise)} — each output rows x k.
- A case a release cannot train (e.g. XGBoost categorical splits before 1.6 on CPU) is
  skipped and the reason printed; the release's folder is rewritten whole each run.

Cases
- XGBoost: binary_missing (binary:logistic, NaN inputs), multiclass (multi:softprob, 4
  classes), regression_base_score (reg:squarederror, base_score=0.7), dart_binary (dart,
  rate_drop 0.3), forest_regression (num_parallel_tree=3, 2 rounds), categorical
  (binary:logistic, hist, pandas category columns with 3 and 12 categories: one-hot and
  partition splits; releases >= 1.6), vector_leaf_multiclass (multi:softprob, 3 classes,
  multi_strategy="multi_output_tree"; releases >= 2.0).
- LightGBM: binary_nan (default missing handling, NaN inputs), regression_zero_as_missing
  (zero_as_missing=True, zeros and NaN in inputs), regression_no_missing (use_missing=False,
  NaN in inputs), multiclass (3 classes), categorical (binary, two categorical_feature columns
  of 3 and 15 categories, NaN in training only in the second, so the first has missing type
  None; inputs with NaN in both, valid codes and one unseen code).

Releases that could not be produced on Python 3.11: none so far (all pins below install as
wheels). XGBoost 1.0.2 and 1.5.2 cannot train categorical splits on CPU (1.0 has no
enable_categorical; 1.5's CPU hist does not support it), so they have no `categorical` case.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROWS = 40

# (library, version, pins installed before it). numpy < 1.24 for releases that still use
# np.float / np.int aliases or build against the numpy 1.x ABI.
_OLD = ["numpy==1.23.5", "scipy==1.9.3"]
RELEASES = [
    ("xgboost", "1.0.2", _OLD + ["pandas==1.5.3"]),
    ("xgboost", "1.5.2", _OLD + ["pandas==1.5.3"]),
    ("xgboost", "1.7.6", _OLD + ["pandas==1.5.3"]),
    ("xgboost", "2.0.3", ["numpy==1.26.4", "scipy==1.11.4", "pandas==2.1.4"]),
    ("xgboost", "2.1.4", ["numpy==1.26.4", "scipy==1.13.1", "pandas==2.2.3"]),
    ("xgboost", "3.0.5", ["numpy==2.2.6", "scipy==1.15.3", "pandas==2.2.3"]),
    ("xgboost", "3.1.3", ["numpy==2.2.6", "scipy==1.15.3", "pandas==2.2.3"]),
    ("lightgbm", "2.3.1", _OLD),
    ("lightgbm", "3.3.5", _OLD),
    ("lightgbm", "4.3.0", ["numpy==1.26.4", "scipy==1.11.4"]),
]


# ---------------------------------------------------------------------------------------
# Driver (standard library only)

def cache_dir():
    root = os.environ.get("FLORESTA_COMPAT_CACHE")
    return pathlib.Path(root) if root else pathlib.Path.home() / ".cache" / "floresta-compat"


def ensure_venv(library, version, pins):
    """The release's virtual environment, created (or recreated when its pins changed)."""
    root = cache_dir() / f"{library}-{version}"
    python = root / "bin" / "python"
    marker = root / ".floresta-compat.json"
    wanted = {"python": os.environ.get("FLORESTA_COMPAT_PYTHON", sys.executable), "pins": pins,
              "package": f"{library}=={version}"}
    if marker.exists() and python.exists() and json.loads(marker.read_text()) == wanted:
        return python
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    print(f"== creating {root}", flush=True)
    subprocess.run([wanted["python"], "-m", "venv", str(root)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--only-binary=:all:"]
    subprocess.run(pip + pins, check=True)
    subprocess.run(pip + ["--no-deps", wanted["package"]], check=True)
    marker.write_text(json.dumps(wanted))
    return python


def main(argv):
    chosen = set(argv)
    known = {f"{lib}-{ver}" for lib, ver, _ in RELEASES}
    unknown = chosen - known
    if unknown:
        sys.exit(f"unknown release(s) {sorted(unknown)}; RELEASES has {sorted(known)}")
    failed = []
    for library, version, pins in RELEASES:
        name = f"{library}-{version}"
        if chosen and name not in chosen:
            continue
        try:
            python = ensure_venv(library, version, pins)
        except subprocess.CalledProcessError as error:
            print(f"!! {name}: could not create its environment ({error})", flush=True)
            failed.append(name)
            continue
        out = HERE / name
        if out.exists():
            shutil.rmtree(out)
        out.mkdir()
        print(f"== {name}", flush=True)
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
        result = subprocess.run([str(python), str(pathlib.Path(__file__).resolve()), "--worker", library, version,
                                 str(out)], env=env)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {failed}")


# ---------------------------------------------------------------------------------------
# Worker (runs inside a release's venv)

def _matrix(values, rows):
    import numpy as np
    return np.asarray(values, dtype=np.float64).reshape(rows, -1).tolist()


def write_vectors(out, model_file, library, version, X, **outputs):
    """outputs: raw, proba, value, label — each rows x k (1-D arrays become rows x 1)."""
    import numpy as np
    X = np.asarray(X, dtype=np.float64)
    vectors = {"model": model_file, "library": library, "version": version,
               "inputs": [[None if np.isnan(v) else float(v) for v in row] for row in X]}
    for key, value in outputs.items():
        vectors[key] = _matrix(value, len(X))
    (out / f"{model_file}.vectors.json").write_text(json.dumps(vectors))


def _version_tuple(version):
    return tuple(int(part) for part in version.split(".")[:2])


def _eval_rows(X):
    """The first rows of X plus an all-missing row, a zero row and a row of large values."""
    import numpy as np
    d = X.shape[1]
    extra = np.array([[np.nan] * d, [0.0] * d, [1e6 if j % 2 else -1e6 for j in range(d)]], dtype=X.dtype)
    return np.vstack([X[: ROWS - len(extra)], extra])


def xgboost_worker(version, out):
    import numpy as np
    import xgboost as xgb

    assert xgb.__version__ == version, (xgb.__version__, version)
    ubj = _version_tuple(version) >= (1, 6)
    produced = []

    def record(case, booster, dm, X_eval, objective):
        raw = booster.predict(dm, output_margin=True)
        out_ = booster.predict(dm)
        assert np.array_equal(raw, booster.predict(dm, output_margin=True)), "predictions are not deterministic"
        outputs = {"raw": raw}
        if objective == "binary:logistic":
            outputs["proba"] = np.column_stack([np.float32(1) - out_, out_])
            outputs["label"] = (out_ > 0.5).astype(int)
        elif objective == "multi:softprob":
            outputs["proba"] = out_
            outputs["label"] = np.asarray(out_).argmax(axis=1)
        else:
            outputs["value"] = out_
        for ext in ["json"] + (["ubj"] if ubj else []):
            path = out / f"{case}.{ext}"
            booster.save_model(str(path))
            write_vectors(out, path.name, "xgboost", xgb.__version__, X_eval, **outputs)
            produced.append(path.name)

    rs = np.random.RandomState(20240611)
    n, d = 400, 6
    X = rs.normal(size=(n, d)).astype(np.float32)
    X[rs.random_sample(X.shape) < 0.15] = np.nan
    Z = np.nan_to_num(X)
    T = _eval_rows(X)
    dtest = xgb.DMatrix(T)
    common = {"max_depth": 3, "eta": 0.3, "seed": 1, "nthread": 1}

    y = (Z[:, 0] + 0.5 * Z[:, 1] - 0.3 * Z[:, 2] > 0).astype(int)
    b = xgb.train(dict(common, objective="binary:logistic"), xgb.DMatrix(X, y), 8)
    record("binary_missing", b, dtest, T, "binary:logistic")

    signal = Z[:, 0] + 0.5 * Z[:, 1] - 0.25 * Z[:, 2] * Z[:, 3]
    y = np.digitize(signal, np.quantile(signal, [0.25, 0.5, 0.75]))
    b = xgb.train(dict(common, objective="multi:softprob", num_class=4), xgb.DMatrix(X, y), 5)
    record("multiclass", b, dtest, T, "multi:softprob")

    y = 0.7 + Z[:, 2] * 1.5 + Z[:, 3] ** 2 * 0.5
    b = xgb.train(dict(common, objective="reg:squarederror", base_score=0.7), xgb.DMatrix(X, y), 8)
    record("regression_base_score", b, dtest, T, "reg:squarederror")

    y = (Z[:, 0] > 0.2).astype(int)
    b = xgb.train(dict(common, booster="dart", rate_drop=0.3, objective="binary:logistic"), xgb.DMatrix(X, y), 8)
    record("dart_binary", b, dtest, T, "binary:logistic")

    y = Z[:, 1] * 2 - Z[:, 4]
    b = xgb.train(dict(common, objective="reg:squarederror", num_parallel_tree=3, subsample=0.8,
                       colsample_bynode=0.8, eta=1.0), xgb.DMatrix(X, y), 2)
    record("forest_regression", b, dtest, T, "reg:squarederror")

    # Vector leaves (multi_strategy="multi_output_tree", 2.0+): one tree per round for all
    # classes (leaf vectors in base_weights before 3.2, in leaf_weights from 3.2).
    if _version_tuple(version) >= (2, 0):
        y = np.digitize(signal, np.quantile(signal, [0.33, 0.66]))
        b = xgb.train(dict(common, objective="multi:softprob", num_class=3, tree_method="hist",
                           multi_strategy="multi_output_tree"), xgb.DMatrix(X, y), 5)
        record("vector_leaf_multiclass", b, dtest, T, "multi:softprob")

    # Categorical splits: pandas category columns (categories 0..k-1, so code == value).
    try:
        import pandas as pd

        small = rs.randint(0, 3, n).astype(float)
        large = rs.randint(0, 12, n).astype(float)
        small[rs.random_sample(n) < 0.08] = np.nan
        large[rs.random_sample(n) < 0.08] = np.nan
        num = X[:, :2]

        def category(values, k):  # integer categories 0..k-1 (3.1 refuses float ones), NaN = code -1
            codes = np.where(np.isnan(values), -1, np.nan_to_num(values)).astype(int)
            return pd.Categorical.from_codes(codes, categories=list(range(k)))

        def frame(s, l, v):
            return pd.DataFrame({"small": category(s, 3), "large": category(l, 12), "x0": v[:, 0], "x1": v[:, 1]})

        df = frame(small, large, num)
        y = ((np.isin(large, [1, 4, 5, 9]) ^ (small == 2)) | (np.nan_to_num(num[:, 0]) > 1.2)).astype(int)
        b = xgb.train(dict(common, objective="binary:logistic", tree_method="hist", max_cat_to_onehot=4),
                      xgb.DMatrix(df, y, enable_categorical=True), 8)
        model = json.loads(_save_json_text(b, out))
        trees = model["learner"]["gradient_booster"]["model"]["trees"]
        if not any(any(t == 1 for t in tree.get("split_type", [])) for tree in trees):
            raise RuntimeError("no categorical split in the trained model")
        es, el, ev = small[:ROWS].copy(), large[:ROWS].copy(), num[:ROWS].copy()
        es[::9], el[1::7] = np.nan, np.nan     # missing categories
        el[2::11], es[3::13] = 11.0, 0.0       # valid codes at the edges
        eval_df = frame(es, el, ev)
        T_cat = np.column_stack([es, el, ev]).astype(np.float64)
        record("categorical", b, xgb.DMatrix(eval_df, enable_categorical=True), T_cat, "binary:logistic")
    except Exception as error:  # releases without CPU categorical support
        print(f"   skipped categorical: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
    print("   " + ", ".join(produced))


def _save_json_text(booster, out):
    tmp = out / "_tmp_model.json"
    booster.save_model(str(tmp))
    text = tmp.read_text()
    tmp.unlink()
    return text


def lightgbm_worker(version, out):
    import lightgbm as lgb
    import numpy as np

    assert lgb.__version__ == version, (lgb.__version__, version)
    produced = []
    common = {"verbose": -1, "num_leaves": 7, "min_data_in_leaf": 10, "seed": 1, "num_threads": 1,
              "deterministic": True}

    def record(case, booster, X_eval, kind):
        path = out / f"{case}.txt"
        booster.save_model(str(path))
        raw = booster.predict(X_eval, raw_score=True)
        p = booster.predict(X_eval)
        if kind == "binary":
            outputs = {"raw": raw, "proba": np.column_stack([1 - p, p]), "label": (p > 0.5).astype(int)}
        elif kind == "multiclass":
            outputs = {"raw": raw, "proba": p, "label": np.asarray(p).argmax(axis=1)}
        else:
            outputs = {"raw": raw, "value": p}
        write_vectors(out, path.name, "lightgbm", lgb.__version__, X_eval, **outputs)
        produced.append(path.name)

    def train(params, X, y, rounds, **dataset):
        return lgb.train(dict(common, **params), lgb.Dataset(X, y, **dataset), rounds)

    rs = np.random.RandomState(20240612)
    n, d = 600, 5
    X = rs.normal(size=(n, d))
    X[rs.random_sample(X.shape) < 0.12] = np.nan
    Z = np.nan_to_num(X)
    T = _eval_rows(X)

    y = (Z[:, 0] + 0.5 * Z[:, 1] - 0.3 * np.isnan(X[:, 2]) > 0).astype(int)
    record("binary_nan", train({"objective": "binary"}, X, y, 10), T, "binary")

    W = X.copy()
    W[rs.random_sample(W.shape) < 0.15] = 0.0
    Wz = np.nan_to_num(W)
    y = Wz[:, 0] * 2 + Wz[:, 1] + (W[:, 2] == 0) * 1.5
    TW = _eval_rows(W)
    record("regression_zero_as_missing",
           train({"objective": "regression", "zero_as_missing": True}, W, y, 10), TW, "regression")
    record("regression_no_missing", train({"objective": "regression", "use_missing": False}, X, y, 10), TW,
           "regression")

    signal = Z[:, 0] + 0.5 * Z[:, 1] - 0.25 * Z[:, 2] * Z[:, 3]
    y = np.digitize(signal, np.quantile(signal, [0.33, 0.66]))
    record("multiclass", train({"objective": "multiclass", "num_class": 3}, X, y, 6), T, "multiclass")

    C = X[:, :4].copy()
    C[:, 2] = rs.randint(0, 3, n)
    C[:, 3] = rs.randint(0, 15, n)
    C[rs.random_sample(n) < 0.06, 3] = np.nan   # column 2 has no NaN in training: missing type None
    y = ((np.isin(C[:, 3], [1, 4, 5, 9, 13]) ^ (C[:, 2] == 2)) | (np.nan_to_num(C[:, 0]) > 1.2)).astype(int)
    booster = train({"objective": "binary", "min_data_per_group": 5, "cat_smooth": 1.0}, C, y, 10,
                    categorical_feature=[2, 3])
    TC = C[:ROWS].copy()
    TC[::9, 3] = np.nan          # missing categories
    TC[1::10, 2] = np.nan
    TC[4, 3] = 14.0              # valid codes at the edges
    TC[5, 2] = 0.0
    TC[6, 3] = 21.0              # a code never seen in training
    record("categorical", booster, TC, "binary")
    print("   " + ", ".join(produced))


def worker(library, version, out):
    out = pathlib.Path(out)
    {"xgboost": xgboost_worker, "lightgbm": lightgbm_worker}[library](version, out)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:])
    else:
        main(sys.argv[1:])
