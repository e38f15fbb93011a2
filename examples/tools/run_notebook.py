"""Runs a notebook headless (nbclient) in a kernel that is this interpreter; the applications'
execute_notebook.py scripts and notebook tests use it.

A kernelspec named "python3" pointing at sys.executable is written to a temporary
JUPYTER_PATH directory, which Jupyter searches first, so neither a kernelspec installed
elsewhere on the machine nor the PATH decides which Python runs the notebook.
"""
import contextlib
import json
import os
import pathlib
import sys
import tempfile


@contextlib.contextmanager
def environment(**values):
    """Sets the environment variables whose value is not None, restoring them afterwards."""
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


def execute(path, env=None, out=None, timeout=600):
    """Runs every cell of the notebook at ``path`` with the variables ``env`` (a dict; None
    values are left unset) in the kernel's environment; raises nbclient's CellExecutionError
    on a cell error. Writes the executed notebook to ``out`` when given; returns it."""
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
        with environment(JUPYTER_PATH=search, MPLBACKEND="module://matplotlib_inline.backend_inline", **(env or {})):
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                    resources={"metadata": {"path": str(pathlib.Path(path).parent)}})
            client.execute()
    if out is not None:
        nbformat.write(nb, str(out))
    return nb
