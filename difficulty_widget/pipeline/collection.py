"""Many models on the same data in one call: per-model correctness, trivial / impossible / decisive
instances and error consistency (Meding, Buschoff, Geirhos, Wichmann, ICLR 2022; Geirhos et al., NeurIPS 2020).

:func:`train_zoo` trains a small, varied collection (architectures x seeds) for tutorials and tests;
:func:`analyze_models` scores any mapping of name -> model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import Analysis
from ..data.images import ImageData
from ..measures import registry
from ..measures.ensemble import error_consistency_report

#: The default zoo: two CNN seeds, two MLP seeds and a softmax regression (5 models, 3 architectures).
DEFAULT_ZOO: tuple[tuple[str, int], ...] = (("cnn", 0), ("cnn", 1), ("mlp", 0), ("mlp", 1), ("linear", 0))


def train_zoo(
    data: ImageData,
    specs: Sequence[tuple[str, int]] = DEFAULT_ZOO,
    *,
    epochs: int | Mapping[str, int] = 2,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one seeded small model per ``(kind, seed)`` on ``data``; returns ``{"cnn-s0": model, ...}``.

    ``epochs`` is one number or a per-kind mapping such as ``{"cnn": 2, "mlp": 3, "linear": 3}``.
    """
    from tqdm.auto import tqdm

    from ..extract import train_small_model

    if not specs:
        raise ValueError("specs must name at least one (kind, seed) pair")
    zoo: dict[str, Any] = {}
    for kind, seed in tqdm(list(specs), desc="zoo", unit="model", disable=not progress, leave=False):
        n_epochs = epochs[kind] if isinstance(epochs, Mapping) else epochs
        name = f"{kind}-s{seed}"
        if name in zoo:
            raise ValueError(f"specs lists {kind!r} with seed {seed} twice")
        zoo[name] = train_small_model(data, kind, epochs=n_epochs, seed=seed, progress=False).model
    return zoo


def correct_column(name: str) -> str:
    """The Analysis column holding one model's correctness: ``correct_<name>`` made a Python identifier."""
    column = "correct_" + re.sub(r"\W", "_", name)
    return column if column.isidentifier() else "correct_" + column


def analyze_models(
    models: Mapping[str, Any],
    data: Any,
    *,
    reference: str | None = None,
    summary_split: str | None = "test",
    class_names: Sequence[str] | None = None,
    batch_size: int = 256,
    device: str | None = None,
    progress: bool = True,
) -> Analysis:
    """Run every model over ``data`` once and return one :class:`Analysis` for the collection.

    Columns: the model scores of the ``reference`` model (default: the first), ``correct_<name>`` per model,
    ``n_models_correct`` and ``dichotomy`` (trivial / decisive / impossible), and the ensemble's label issues
    (``ensemble_label_issue``, ``ensemble_label_issue_score``, ``ensemble_suggested_label``: confident learning on
    the models' mean softmax, :func:`~difficulty_widget.measures.label_issues.ensemble_label_issue_scores`).
    Tables (``analysis.tables``), computed on the rows of ``summary_split`` (all rows when ``None`` or absent):
    ``accuracy`` per model, ``dichotomy_shares``, ``error_consistency`` (M x M Cohen's kappa on all those rows),
    ``error_consistency_decisive`` (on their decisive rows only) and ``error_consistency_summary``.
    """
    from ..extract import extract

    if not isinstance(models, Mapping) or len(models) < 2:
        raise ValueError("models must be a mapping of at least two names to models")
    names = [str(n) for n in models]
    columns = [correct_column(n) for n in names]
    if len(set(columns)) != len(columns):
        raise ValueError(f"model names {names} collide once made column names: {columns}")
    reference = names[0] if reference is None else reference
    if reference not in names:
        raise ValueError(f"reference must be one of the model names {names}, got {reference!r}")

    extractions = {
        name: extract(model, data, batch_size=batch_size, device=device, progress=progress)
        for name, model in models.items()
    }
    labels = extractions[reference].labels
    for name, extraction in extractions.items():
        if not np.array_equal(extraction.labels, labels):
            raise ValueError(f"model {name!r} saw different labels: the data must yield the same instances each pass")
    correct = np.stack([extractions[n].predictions == labels for n in names])
    logits = np.stack([extractions[n].logits for n in names])
    scores = registry.compute_available(
        {"logits": logits[names.index(reference)], "labels": labels, "correct_per_model": correct,
         "logits_per_model": logits}
    )  # fmt: skip
    frame = pd.DataFrame({"id": np.arange(len(labels)), "label": labels})
    info: dict[str, Any] = {"models": names, "reference_model": reference, "model": reference}
    if isinstance(data, ImageData):
        frame["id"], info["dataset"] = data.ids, data.name
        if data.split is not None:
            frame["split"] = data.split
        class_names = class_names or data.class_names
    elif class_names is None and getattr(data, "classes", None) is not None:
        class_names = list(data.classes)
    frame = pd.concat([frame, scores, pd.DataFrame(correct.T, columns=columns)], axis=1)
    if class_names is None:
        class_names = [str(c) for c in range(extractions[reference].logits.shape[1])]

    rows = np.ones(len(labels), dtype=bool)
    if summary_split is not None and "split" in frame.columns and (frame["split"] == summary_split).any():
        rows = (frame["split"] == summary_split).to_numpy()
        info["summary_rows"] = f"split == {summary_split!r}"
    else:
        info["summary_rows"] = "all rows"
    report = error_consistency_report(correct[:, rows], names=names)
    tables = {
        "accuracy": pd.DataFrame({"accuracy": correct[:, rows].mean(axis=1)}, index=pd.Index(names, name="model")),
        "dichotomy_shares": report.dichotomy.summary,
        "error_consistency": report.all_instances,
        "error_consistency_decisive": report.decisive,
        "error_consistency_summary": report.summary(),
    }
    return Analysis(frame, class_names, provenance=info, tables=tables)
