"""Shared fixtures: a recorder of the worst differences against the training library,
printed at the end of the run (the numbers the closing notes and README quote)."""
import numpy as np
import pytest

_WORST = {}


def record(name, expected, actual):
    """Records max |expected - actual| under `name` and returns it."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    assert expected.shape == actual.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    worst = float(np.max(np.abs(expected - actual))) if expected.size else 0.0
    _WORST[name] = max(worst, _WORST.get(name, 0.0))
    return worst


@pytest.fixture
def parity():
    return record


def pytest_terminal_summary(terminalreporter):
    if _WORST:
        terminalreporter.write_sep("-", "worst |difference| against the training library")
        for name in sorted(_WORST):
            terminalreporter.write_line(f"{name:60s} {_WORST[name]:.3g}")
