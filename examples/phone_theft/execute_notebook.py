"""Executes phone_theft.ipynb headless (nbclient) and saves it with its outputs.

    .venv/bin/python examples/phone_theft/execute_notebook.py              # full size, in place
    .venv/bin/python examples/phone_theft/execute_notebook.py --rows 20000 --out /tmp/nb.ipynb

The kernel is this interpreter (sys.executable; examples/tools/run_notebook.py says how).
tests/test_notebook.py uses execute().
"""
import argparse
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
NOTEBOOK = HERE / "phone_theft.ipynb"
sys.path.insert(0, str(HERE.parent / "tools"))

import run_notebook  # noqa: E402


def execute(path=NOTEBOOK, rows=None, out=None, timeout=600):
    """Runs every cell of the notebook at ``path`` (PHONE_THEFT_ROWS=rows when given) in a
    kernel running this interpreter; raises nbclient's CellExecutionError on a cell error.
    Writes the executed notebook to ``out`` when given; returns it."""
    return run_notebook.execute(path, env={"PHONE_THEFT_ROWS": rows}, out=out, timeout=timeout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="PHONE_THEFT_ROWS (default: the notebook's, 178,288)")
    parser.add_argument("--out", default=str(NOTEBOOK), help="where to save the executed notebook")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    execute(NOTEBOOK, rows=args.rows, out=args.out, timeout=args.timeout)
    print(f"executed {NOTEBOOK.name} -> {args.out}")


if __name__ == "__main__":
    main()
