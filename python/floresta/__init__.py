"""floresta: fast, exact scoring of tree ensembles exported from XGBoost (more formats soon).

    import floresta
    model = floresta.load("model.json")      # XGBoost JSON or UBJSON, detected from content
    proba = model.predict_proba(X)            # numpy array or pandas DataFrame

Every error floresta detects (bad model file, wrong columns, non-numeric data) is raised as
``ValueError`` (more precisely ``floresta.FlorestaError``, a subclass of it).
"""
from ._core import FlorestaError, __version__
from ._model import Model, load, load_bytes

__all__ = ["FlorestaError", "Model", "load", "load_bytes", "__version__"]
