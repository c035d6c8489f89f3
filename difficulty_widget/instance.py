"""One instance up close (the Explorer's instance view): its scores as percentiles, its nearest neighbours, the
label the label-issue flag suggests for it, and its duplicates (the other images of its ``duplicate_group``, and the
training image a leaked test image duplicates; see :mod:`difficulty_widget.measures.data_quality`).

Pure functions: arrays and tables in, tables out. The neighbours are found on demand for one instance with the
project's exact k-NN search (:func:`difficulty_widget.measures.knn.nearest_neighbours`: milliseconds for 70000 x 512).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._validation import to_numpy
from .measures import registry
from .measures.knn import nearest_neighbours as knn_search


def nearest_neighbours(
    features: Any, position: int, k: int = 8, candidates: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows nearest to row ``position`` of ``features`` (N x d), by Euclidean distance, nearest first
    (ties to the lower row), never the row itself: (positions int64, distances float64).

    ``candidates``: a boolean mask over the N rows (e.g. the training rows, the support of the k-NN measures);
    default every row.
    """
    feats = to_numpy(features)
    if feats.ndim != 2 or len(feats) < 2:
        raise ValueError(f"features must be an (N, d) array with N >= 2, got shape {feats.shape}")
    n = len(feats)
    if isinstance(position, bool) or not isinstance(position, (int, np.integer)) or not 0 <= position < n:
        raise ValueError(f"position must be a row index in [0, {n}), got {position!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    mask = np.ones(n, dtype=bool) if candidates is None else to_numpy(candidates)
    if mask.dtype != bool or mask.shape != (n,):
        raise ValueError(f"candidates must be a boolean mask of shape ({n},), got {mask.dtype} {mask.shape}")
    mask = mask.copy()
    mask[position] = False
    rows = np.flatnonzero(mask)
    found = knn_search(feats[position : position + 1], feats[rows], min(k, len(rows)))  # the project's exact k-NN
    return rows[found.indices[0]].astype(np.int64), np.sqrt(found.sq_distances[0])


def score_percentiles(df: pd.DataFrame, position: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Row ``position``'s scores beside the whole table: for each numeric column, its value, its percentile (the
    share of finite values <= it, in %), and ``harder_than``: the share of instances it is harder than by that
    measure (the percentile, or 100 minus it when low means hard; NaN for measures with no registered direction).
    Default columns: the registered measures present in ``df``."""
    if not 0 <= position < len(df):
        raise ValueError(f"position must be a row index in [0, {len(df)}), got {position!r}")
    known = {m.name for m in registry.measures()}
    names = [c for c in df.columns if c in known] if columns is None else list(columns)
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the table")
    rows = []
    for name in names:
        series = df[name]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            continue
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        value = values[position]
        finite = values[np.isfinite(values)]
        defined = finite.size and np.isfinite(value)
        percentile = 100.0 * np.count_nonzero(finite <= value) / len(finite) if defined else np.nan
        if name in known:
            hard_high = registry.get(name).harder_when_higher
            harder = percentile if hard_high else 100.0 - percentile
            direction = "hard = high" if hard_high else "hard = low"
        else:
            harder, direction = np.nan, ""
        rows.append((name, value, percentile, harder, direction))
    return pd.DataFrame(rows, columns=["name", "value", "percentile", "harder_than", "direction"])


def suggestion_text(label: Any, suggested: Any, class_names: Sequence[str] | None = None) -> str | None:
    """``"label: shirt → suggested: T-shirt"`` when ``suggested`` (a ``suggested_label`` value, see
    :mod:`difficulty_widget.measures.label_issues`) is present and differs from the given ``label``; ``None`` when
    it is missing (NaN, ``pd.NA``: rows outside the training set) or equal to the label. Classes are written with
    their ``class_names`` when given, else as indices."""
    if suggested is None or pd.isna(suggested) or label is None or pd.isna(label):
        return None
    given, other = int(label), int(suggested)
    if given == other:
        return None

    def name(c: int) -> str:
        return str(class_names[c]) if class_names is not None and 0 <= c < len(class_names) else str(c)

    return f"label: {name(given)} → suggested: {name(other)}"


def duplicates_of(df: pd.DataFrame, position: int) -> pd.DataFrame:
    """The other rows of row ``position``'s ``duplicate_group`` (its exact or near duplicates, see
    :mod:`difficulty_widget.measures.data_quality`), in table order: ``position``, ``id``, ``label`` and
    ``same_label`` (its label is the row's own). Empty when the row is in no group (a missing ``duplicate_group``)
    or the table has no such column."""
    if not 0 <= position < len(df):
        raise ValueError(f"position must be a row index in [0, {len(df)}), got {position!r}")
    columns = ["position", "id", "label", "same_label"]
    if "duplicate_group" not in df.columns or pd.isna(df["duplicate_group"].iloc[position]):
        return pd.DataFrame({c: pd.Series(dtype=bool if c == "same_label" else np.int64) for c in columns})
    groups = df["duplicate_group"].to_numpy(dtype=np.float64, na_value=np.nan)
    rows = np.flatnonzero(groups == groups[position])
    rows = rows[rows != position]
    labels = df["label"].to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {
            "position": rows.astype(np.int64),
            "id": df["id"].to_numpy(dtype=np.int64)[rows],
            "label": labels[rows],
            "same_label": labels[rows] == labels[position],
        }
    )


def leak_text(leaks_from: Any) -> str | None:
    """``"leaks from training id 3"`` for a ``leaks_from`` value (the training image a leaked test image duplicates,
    see :mod:`difficulty_widget.measures.data_quality`); ``None`` when it is missing (not leaked, or a training
    row)."""
    if leaks_from is None or pd.isna(leaks_from):
        return None
    return f"leaks from training id {int(leaks_from)}"
