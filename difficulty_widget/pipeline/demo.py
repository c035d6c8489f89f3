"""The main job: train a small seeded model, score every instance, save the Analysis, print a summary."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import Analysis
from ..data import ImageData, load_digits, load_fashion_mnist

DATASETS = ("digits", "fashion-mnist")
DEFAULT_EPOCHS = {"digits": 20, "fashion-mnist": 2}


def demo_data(dataset: str, seed: int = 0) -> ImageData:
    """Digits with a seeded stratified 75/25 train/test split, or Fashion-MNIST train + test."""
    if dataset == "digits":
        from sklearn.model_selection import train_test_split

        data = load_digits()
        positions = np.arange(len(data))
        _, test = train_test_split(positions, test_size=0.25, stratify=data.labels, random_state=seed)
        split = np.full(len(data), "train", dtype=object)
        split[test] = "test"
        data.split = split
        return data
    if dataset == "fashion-mnist":
        return load_fashion_mnist("all")
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def run_demo(
    dataset: str = "digits",
    out: str | Path = "demo-output",
    *,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[Analysis, Path]:
    """Train the small CNN on the training split (recording its training dynamics), analyse every instance from
    every perspective the run allows (model scores, prediction depth, data scores, dynamics), save
    ``out/analysis.parquet``."""
    from ..extract import train_small_model
    from .scoring import analyze

    data = demo_data(dataset, seed=seed)
    epochs = DEFAULT_EPOCHS[dataset] if epochs is None else epochs
    train = data.where_split("train")
    result = train_small_model(train, "cnn", epochs=epochs, seed=seed, record_logits=True, progress=progress)
    provenance = {"dataset": data.name, "seed": seed, "epochs": epochs, "trained_on": "train"}
    analysis = analyze(
        result.model, data, logits_per_epoch=result, model_name="SmallCNN", provenance=provenance, progress=progress
    )
    save_view_inputs(result.model, data, analysis, Path(out), progress=progress)
    path = analysis.save(Path(out) / "analysis.parquet")
    return analysis, path


def save_view_inputs(model: Any, data: ImageData, analysis: Analysis, out: Path, *, progress: bool = False) -> None:
    """What the Explorer's views need beyond the table: the penultimate embedding (``embeddings.npy``, row-aligned
    with the analysis, for the instance view's neighbours) and its PCA projection (columns ``proj_x``, ``proj_y``),
    and the class templates (``templates.npy``, for the class graph)."""
    from ..extract import extract
    from ..projection import add_projection
    from ..semantics import class_templates

    out.mkdir(parents=True, exist_ok=True)
    probe = analysis.provenance.get("features_probe")
    if probe:
        rows = data.subset(pd.Index(data.ids).get_indexer(analysis.df["id"]))  # the analysis's rows, in its order
        features = extract(model, rows, probes=[probe], progress=progress).probes[probe].astype(np.float32)
        add_projection(analysis, features, probe=probe)
        np.save(out / "embeddings.npy", features)
    np.save(out / "templates.npy", class_templates(model))


def format_summary(analysis: Analysis, n: int = 10) -> str:
    """Accuracy per split, the ``n`` hardest instances by loss and by margin, and per-class accuracy."""
    df = analysis.df
    focus = "test" if "test" in set(df["split"]) else None
    where = f" ({focus} split)" if focus else ""
    lines = [f"{len(df)} instances, {analysis.n_classes} classes, model {analysis.provenance.get('model', '?')}"]
    for split, part in df.groupby("split", observed=True):
        lines.append(f"accuracy on {split}: {part['correct'].mean():.4f} ({int(part['correct'].sum())}/{len(part)})")
    columns = ["id", "split", "label_name", "prediction", "confidence", "margin", "loss"]
    for measure in ("loss", "margin"):
        hardest = analysis.hardest(measure, n=n, split=focus)[columns].copy()
        hardest["prediction"] = [analysis.class_names[p] for p in hardest["prediction"]]
        lines += ["", f"{n} hardest by {measure}{where}:", hardest.to_string(index=False, float_format="%.3f")]
    per_class = analysis.per_class_accuracy(split=focus)
    lines += ["", f"per-class accuracy{where}:", per_class.to_string(index=False, float_format="%.3f")]
    return "\n".join(lines)


EXPLORE_CELLS = [
    "# Explore the demo's difficulty scores\n\n"
    "Brush the scatter plot, the projection, a histogram or a layer of the flow view; click a cell of the "
    "confusion matrix or of the difficulty-patterns grid, a class, or a node or edge of the class graph: the "
    "gallery shows those images and `explorer.selected` holds their rows. Click a thumbnail to see its scores and "
    "nearest neighbours. Select from Python with `explorer.select(...)` or `explorer.select_pattern(...)`.",
    "import numpy as np\n\nimport difficulty_widget as dw\nfrom difficulty_widget import semantics\n"
    "from difficulty_widget.data import {loader}\n\n"
    "analysis = dw.Analysis.load('analysis.parquet')\ndf = analysis.df\n"
    "structural = semantics.structural_similarity(np.load('templates.npy'))\n"
    "graph = semantics.class_graph(structural, labels=df.label, predictions=df.prediction, "
    "class_names=analysis.class_names)\n"
    "explorer = dw.Explorer(analysis, images={loader}({loader_args}), embeddings=np.load('embeddings.npy'), "
    "class_graph=graph)\nexplorer",
    "# the confident-but-wrong corner, from Python:\n"
    "explorer.select('~correct and confidence > 0.8')\nexplorer.selected.head()",
]


def write_explore_notebook(out: str | Path, dataset: str) -> Path:
    """Write ``out/explore.ipynb``: load the saved analysis and display the Explorer with the images."""
    import nbformat

    loader, loader_args = ("load_digits", "") if dataset == "digits" else ("load_fashion_mnist", "'all'")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(EXPLORE_CELLS[0])] + [
        nbformat.v4.new_code_cell(src.format(loader=loader, loader_args=loader_args)) for src in EXPLORE_CELLS[1:]
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = Path(out) / "explore.ipynb"
    nbformat.write(nb, path)
    return path


def lab_command(notebook: Path) -> list[str]:
    """The command that starts JupyterLab on ``notebook`` (``--allow-root`` when run as root)."""
    command = [sys.executable, "-m", "jupyterlab", notebook.name]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def main_demo(dataset: str, out: str, epochs: int | None, seed: int, progress: bool, open_lab: bool = False) -> int:
    """The `demo` subcommand: run the demo, print its summary, and with ``open_lab`` start JupyterLab on it."""
    started = time.perf_counter()
    analysis, path = run_demo(dataset, out, epochs=epochs, seed=seed, progress=progress)
    print(format_summary(analysis))
    print(f"\nsaved {path} in {time.perf_counter() - started:.1f} s")
    print(f"open it in Python: difficulty_widget.Analysis.load({str(path)!r})")
    if open_lab:
        notebook = write_explore_notebook(out, dataset)
        print(f"wrote {notebook}; starting JupyterLab on it (Ctrl-C to stop)")
        return subprocess.call(lab_command(notebook), cwd=notebook.parent)
    return 0
