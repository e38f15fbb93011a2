"""Executes fraud_and_segments.ipynb headless (nbclient) and saves it with its outputs.

    .venv/bin/python examples/bank/execute_notebook.py                          # full size, in place
    .venv/bin/python examples/bank/execute_notebook.py --customers 400 --days 35 --out /tmp/nb.ipynb

The kernel is this interpreter (sys.executable; examples/tools/run_notebook.py says how).
tests/test_notebook.py uses execute().
"""
import argparse
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
NOTEBOOK = HERE / "fraud_and_segments.ipynb"
sys.path.insert(0, str(HERE.parent / "tools"))

import run_notebook  # noqa: E402


def execute(path=NOTEBOOK, customers=None, days=None, out=None, timeout=900):
    """Runs the notebook with BANK_CUSTOMERS / BANK_DAYS when given (else its defaults, those of
    train_model.py); raises nbclient's CellExecutionError on a cell error."""
    return run_notebook.execute(path, env={"BANK_CUSTOMERS": customers, "BANK_DAYS": days}, out=out,
                                timeout=timeout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=None, help="BANK_CUSTOMERS (default 5,000)")
    parser.add_argument("--days", type=int, default=None, help="BANK_DAYS (default 70)")
    parser.add_argument("--out", default=str(NOTEBOOK), help="where to save the executed notebook")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    execute(NOTEBOOK, customers=args.customers, days=args.days, out=args.out, timeout=args.timeout)
    print(f"executed {NOTEBOOK.name} -> {args.out}")


if __name__ == "__main__":
    main()
