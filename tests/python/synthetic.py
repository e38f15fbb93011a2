"""Synthetic rows and a target shared by the parity tests (imported as `synthetic`)."""
import numpy as np


def rows(n, d, nan_rate, seed=0, dtype=np.float64):
    """n x d standard normal values in `dtype`, a `nan_rate` share of them NaN."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    if nan_rate:
        X[rng.random(size=X.shape) < nan_rate] = np.nan
    return X


def signal(X):
    """A target with a main effect, a weaker one and an interaction; NaN read as 0."""
    Z = np.nan_to_num(X)
    return Z[:, 0] + 0.5 * Z[:, 1] - 0.25 * Z[:, 2] * Z[:, 3]
