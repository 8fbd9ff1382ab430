"""The notebooks in ``notebooks/`` run top to bottom, and are committed without outputs.

Each notebook is executed by ``nbclient`` in a fresh kernel of this interpreter, started in
``notebooks/`` (the notebooks must also work from there), with ``LIT_GANS_NOTEBOOK_FAST=1`` (every
loop shrunk: a smoke test of the code, not of the learning), one torch thread, and their runs and the
real-feature cache in temporary folders. A failing cell fails the test with that cell's error.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = ["01_quickstart", "02_fine_tuning", "03_latent_exploration"]
#: seconds one cell may take in fast mode (the longest take a few seconds)
CELL_TIMEOUT = 180
KERNEL_NAME = "lit-gans-tests"


def _read(name: str) -> dict:
    return json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text(encoding="utf-8"))


def test_every_notebook_is_tested():
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name):
    notebook = _read(name)
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, f"{name} has no code cells"
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{name}: cell {index} stores outputs; clear them before committing"
            assert cell.get("execution_count") is None, f"{name}: cell {index} has an execution count; clear outputs"


@pytest.fixture(scope="session")
def jupyter_path(tmp_path_factory) -> Path:
    """A Jupyter data folder holding one kernelspec that starts this very interpreter (whatever
    ``python3`` kernels the machine has), so the notebooks see the packages of this environment."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "lit-gans tests",
        "language": "python",
    }))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_fast_mode(name, tmp_path, tmp_path_factory, jupyter_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))  # read when the client looks the kernel up
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))  # the kernel's connection file
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    # a first cell of our own: which interpreter the kernel runs
    notebook.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    env = {
        **os.environ,
        "LIT_GANS_NOTEBOOK_FAST": "1",
        "OMP_NUM_THREADS": "1",
        "LIT_GANS_NOTEBOOK_DIR": str(tmp_path / "runs"),
        "LIT_GANS_CACHE": str(tmp_path_factory.getbasetemp() / "lit-gans-cache"),  # shared by this worker's notebooks
        "IPYTHONDIR": str(tmp_path / "ipython"),  # no profile or startup files of the user's
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT,
        startup_timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # started in notebooks/, as from a Jupyter server
    )
    start = time.perf_counter()
    try:
        client.execute(env=env)
    except CellExecutionError as err:
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # IPython colours its tracebacks
        pytest.fail(f"{name}.ipynb failed in a cell:\n{message}", pytrace=False)
    seconds = time.perf_counter() - start
    print(f"{name}.ipynb ran in {seconds:.1f} s (fast mode, kernel start included)")
    executable = "".join(out.get("text", "") for out in notebook.cells[0].outputs).strip()
    assert executable == sys.executable, f"the kernel ran {executable}, not this interpreter ({sys.executable})"
