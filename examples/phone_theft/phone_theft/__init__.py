"""The São Paulo phone-theft example: synthetic data, cleaning, training, evaluation.

Modules: constants (labels, vocabularies, feature names), generate (the synthetic SSP-SP file
and its known truth), clean (the original project's cleaning), model (training, evaluation,
export), places (the place table), text (normalisation).
"""
from .constants import DIAS, FEATURES, LABELS, MARCAS, PERIODOS, SEXOS

__all__ = ["DIAS", "FEATURES", "LABELS", "MARCAS", "PERIODOS", "SEXOS"]
