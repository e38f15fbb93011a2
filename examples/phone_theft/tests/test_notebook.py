"""Executes phone_theft.ipynb at a small size (5,000 generated rows, about 1,450 cleaned) in a
kernel running this interpreter; any cell error fails the test."""
import pathlib
import sys

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(EXAMPLE))

import execute_notebook  # noqa: E402


def test_notebook_runs_at_a_small_size():
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = execute_notebook.execute(EXAMPLE / "phone_theft.ipynb", rows=5000, timeout=600)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "synthetic, 5,000 rows" in text                       # PHONE_THEFT_ROWS reached the kernel
    assert f"({sys.executable})" in text                        # the kernel ran this interpreter
    assert "max |floresta - XGBoost|" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4
