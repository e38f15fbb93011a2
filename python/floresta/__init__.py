"""floresta: fast, exact scoring of tree ensembles from XGBoost, LightGBM and scikit-learn.

    import floresta
    model = floresta.load("model.json")      # XGBoost JSON/UBJSON, LightGBM text/JSON, floresta JSON
    proba = model.predict_proba(X)            # numpy array or pandas DataFrame
    floresta.export(sklearn_estimator, "forest.json")   # scikit-learn -> floresta JSON

Every error floresta detects (bad model file, wrong columns, non-numeric data) is raised as
``ValueError`` (more precisely ``floresta.FlorestaError``, a subclass of it); a person's value
that a model's input rule refuses raises ``floresta.InputError`` (a FlorestaError with
``field`` and ``rule`` attributes).
"""
from ._core import FlorestaError, InputError, __version__, fold_text
from ._export import export
from ._model import Model, available_kernels, load, load_bytes

__all__ = ["FlorestaError", "InputError", "Model", "fold_text", "available_kernels", "export", "load", "load_bytes", "__version__"]
