"""Executes fraud_and_segments.ipynb at a small size (400 customers, 35 days) in a kernel
running this interpreter; any cell error fails the test."""
import pathlib
import sys

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(EXAMPLE))

import execute_notebook  # noqa: E402


def test_notebook_runs_at_a_small_size():
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = execute_notebook.execute(EXAMPLE / "fraud_and_segments.ipynb", customers=400, days=35, timeout=600)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "synthetic, 400 customers, 35 days" in text          # BANK_CUSTOMERS / BANK_DAYS reached the kernel
    assert f"({sys.executable})" in text                         # the kernel ran this interpreter
    assert "max |floresta - LightGBM| on the test week: 0.00e+00" in text
    assert "segment ids identical: True" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 7
