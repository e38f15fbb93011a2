"""Executes phone_theft.ipynb headless (nbclient) and saves it with its outputs.

    .venv/bin/python examples/phone_theft/execute_notebook.py              # full size, in place
    .venv/bin/python examples/phone_theft/execute_notebook.py --rows 20000 --out /tmp/nb.ipynb

The kernel is this interpreter (sys.executable): a kernelspec named "python3" pointing at it
is written to a temporary JUPYTER_PATH directory, which Jupyter searches first, so neither a
kernelspec installed elsewhere on the machine nor the PATH decides which Python runs the
notebook. tests/test_notebook.py uses execute().
"""
import argparse
import contextlib
import json
import os
import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
NOTEBOOK = HERE / "phone_theft.ipynb"


@contextlib.contextmanager
def _environment(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute(path=NOTEBOOK, rows=None, out=None, timeout=600):
    """Runs every cell of the notebook at ``path`` (PHONE_THEFT_ROWS=rows when given) in a
    kernel running this interpreter; raises nbclient's CellExecutionError on a cell error.
    Writes the executed notebook to ``out`` when given; returns it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    with tempfile.TemporaryDirectory() as jupyter_path:
        spec = pathlib.Path(jupyter_path, "kernels", "python3")
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)", "language": "python"}))
        search = os.pathsep.join(p for p in (jupyter_path, os.environ.get("JUPYTER_PATH")) if p)
        with _environment(JUPYTER_PATH=search, PHONE_THEFT_ROWS=rows, MPLBACKEND="module://matplotlib_inline.backend_inline"):
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                    resources={"metadata": {"path": str(pathlib.Path(path).parent)}})
            client.execute()
    if out is not None:
        nbformat.write(nb, str(out))
    return nb


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
