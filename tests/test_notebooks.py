"""The tutorial notebooks: committed executed and fresh, and each still runs top to bottom, offline, without error.

Both tests use notebooks/execute.py, the script that executes the committed notebooks, so they cannot drift.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))
_spec = importlib.util.spec_from_file_location("notebooks_execute", HERE / "execute.py")
execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute)


def _listing() -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in HERE.iterdir()}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_is_executed_and_fresh(path):
    """Outputs are committed, no code cell changed since, nothing unrenderable is kept (run execute.py to fix)."""
    assert execute.problems(path) == [], f"run: python notebooks/execute.py {path.name}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    """execute.py's own function runs it in a temporary folder; nothing is written into notebooks/."""
    before = _listing()
    nb, seconds = execute.execute_notebook(path, workdir=tmp_path)
    assert _listing() == before, "a notebook wrote into notebooks/"
    assert seconds > 0
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
    assert nb.metadata[execute.META]["code_sha256"] == execute.code_sha256(nbformat.read(path, as_version=4))
    assert len(nbformat.writes(nb).encode()) < execute.MAX_NOTEBOOK_BYTES


def test_code_hash_changes_with_code_only():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("x = 1")])
    first = execute.code_sha256(nb)
    nb.cells[0].source = "# another title"
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="out")]
    assert execute.code_sha256(nb) == first
    nb.cells.append(nbformat.v4.new_code_cell("x"))
    assert execute.code_sha256(nb) != first


def test_problems_finds_stale_and_stripped_notebooks(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)"), nbformat.v4.new_code_cell("y = 2")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells[0].execution_count, nb.cells[1].execution_count = 1, 2
    nb.metadata[execute.META] = {"code_sha256": execute.code_sha256(nb), "no_output": [nb.cells[1].id]}
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, path)
    assert execute.problems(path) == []
    nb.cells[0].outputs = []  # stripped
    nbformat.write(nb, path)
    assert any("no outputs" in p for p in execute.problems(path))
    nb.cells.append(nbformat.v4.new_code_cell("z = 3"))  # a cell added without executing
    nbformat.write(nb, path)
    assert any("code changed" in p for p in execute.problems(path))


def test_clean_strips_widget_views_timestamps_and_progress_redraws():
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2000, 1000), "white").save(buffer, format="png")
    big = base64.b64encode(buffer.getvalue()).decode()
    cell = nbformat.v4.new_code_cell("w")
    cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00"}
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={execute.WIDGET_MIME: {"model_id": "x"}, "text/plain": "Explorer(...)"}
        ),
        nbformat.v4.new_output("stream", name="stderr", text=" 10%|#\r 50%|#####\r100%|##########\n"),
        nbformat.v4.new_output("stream", name="stderr", text="2026-12-02 15:13:46,334\tINFO x.py:50 -- started\n"),
        nbformat.v4.new_output(
            "display_data", data={execute.WIDGET_MIME: {}, "text/plain": "train:   0%|          | 0/60000 [00:00<?]"}
        ),
        nbformat.v4.new_output("execute_result", data={"text/plain": "<Explorer object at 0x7f0b32daeb10>"}),
        nbformat.v4.new_output("display_data", data={"image/png": big}),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {"state": {}}})
    execute.clean(nb)
    assert "widgets" not in nb.metadata and "execution" not in cell.metadata
    assert cell.outputs[0].data == {"text/plain": "Explorer(...)"}
    assert cell.outputs[1].text == "100%|##########\n"
    png = Image.open(io.BytesIO(base64.b64decode(cell.outputs[3].data["image/png"])))  # the progress bar dropped
    assert png.width == execute.MAX_IMAGE_WIDTH
    assert len(cell.outputs) == 4 and cell.outputs[2].data == {"text/plain": "<Explorer object>"}


def test_run_time_table_lists_every_notebook():
    table = execute.run_time_table(NOTEBOOKS)
    assert all(f"[{p.stem}]({p.name})" in table for p in NOTEBOOKS)
    readme = (HERE / "README.md").read_text()
    assert execute.TABLE_START in readme and execute.TABLE_END in readme
    assert table in readme, "run: python notebooks/execute.py (it rewrites the table from the notebooks' metadata)"
