"""The main job end to end, as a user runs it: `difficulty-widget demo` in a subprocess."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from difficulty_widget import Analysis
from difficulty_widget.measures import MODEL_SCORE_COLUMNS


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    code = "import sys; from difficulty_widget.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_demo_on_digits_writes_the_analysis_and_prints_a_summary(tmp_path):
    done = run_cli("demo", "--out", str(tmp_path / "out"), "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "accuracy on test" in out and "10 hardest by loss" in out and "10 hardest by margin" in out
    assert "per-class accuracy" in out
    analysis = Analysis.load(tmp_path / "out" / "analysis.parquet")
    df = analysis.df
    assert len(df) == 1797 and set(MODEL_SCORE_COLUMNS) <= set(df.columns)
    assert df["split"].value_counts().to_dict() == {"train": 1347, "test": 450}
    assert df.loc[df["split"] == "test", "correct"].mean() > 0.9
    assert analysis.provenance["dataset"] == "digits" and analysis.provenance["seed"] == 0
    hardest_line = out.split("10 hardest by loss")[1].splitlines()[2]
    top = analysis.hardest("loss", split="test").iloc[0]
    assert hardest_line.split()[0] == str(top["id"])
    # The same seed gives the same table.
    again = run_cli("demo", "--out", str(tmp_path / "again"), "--no-progress", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(Analysis.load(tmp_path / "again" / "analysis.parquet").df, df)


def test_measures_command_and_usage_errors(tmp_path):
    done = run_cli("measures", cwd=tmp_path)
    assert done.returncode == 0 and "| `margin` | model | low |" in done.stdout
    bad = run_cli("demo", "--dataset", "imagenet", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_demo_open_writes_a_notebook_that_runs_and_starts_jupyterlab_on_it(tmp_path, monkeypatch):
    import nbclient
    import nbformat

    from difficulty_widget import cli
    from difficulty_widget.pipeline import demo

    started = []
    monkeypatch.setattr(demo.subprocess, "call", lambda cmd, cwd: started.append((cmd, cwd)) or 0)
    assert cli.main(["demo", "--out", str(tmp_path), "--epochs", "2", "--no-progress", "--open"]) == 0
    ((command, cwd),) = started
    assert command[1:4] == ["-m", "jupyterlab", "explore.ipynb"] and cwd == tmp_path
    nb = nbformat.read(tmp_path / "explore.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print(','.join(explorer.views))"))
    nbclient.NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    views = nb.cells[-1].outputs[0]["text"].strip().split(",")
    assert views == ["scatter", "projection", "confusion", "classes", "histograms", "patterns", "flow",
                     "class_graph", "gallery"]  # fmt: skip
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    widget_views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widget_views) == 1  # the Explorer was displayed
