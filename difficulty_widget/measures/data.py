"""Data-perspective difficulty: where an instance sits among the others in an embedding (usually the
penultimate layer), whatever the model predicts.

- ``knn_label_agreement``: the share of an instance's k nearest neighbours (itself excluded) with its label
  (the k-NN label-consistency score behind "deep k-NN" noisy-label detection, Bahri, Jiang, Gupta, ICML 2020);
- ``centroid_distance``: Euclidean distance to the mean of its class, divided by that class's median distance;
- ``local_density``: mean Euclidean distance to its k nearest neighbours (itself excluded): high = sparse region;
- ``class_frequency``: the share of instances that carry its label (class imbalance).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_labels, check_positive_int
from .knn import Neighbours, check_features, nearest_neighbours
from .knn_streamed import streamed_nearest_neighbours
from .registry import Measure, register
from .search import KnnSearch
from .support import SupportRows, combine


def _features_and_labels(features: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    x = check_features(features, "features")
    return x, check_labels(labels, n=len(x))


def knn_label_agreement(
    features: Any, labels: Any, k: int = 30, *, device: Any = None, precision: str = "auto"
) -> np.ndarray:
    """Share (float64 in [0, 1]) of each instance's k nearest neighbours, itself excluded, with its label
    (``device``: where the k-NN search runs, default the CPU; ``precision``: of its candidate search, the same
    result for each)."""
    x, y = _features_and_labels(features, labels)
    return _agreement(y, y, nearest_neighbours(x, x, k, exclude_self=True, device=device, precision=precision))


def local_density(features: Any, k: int = 30, *, device: Any = None, precision: str = "auto") -> np.ndarray:
    """Mean Euclidean distance to the k nearest neighbours, itself excluded (high = sparse, atypical;
    ``device``: where the k-NN search runs, default the CPU; ``precision``: of its candidate search)."""
    x = check_features(features, "features")
    return _density(nearest_neighbours(x, x, k, exclude_self=True, device=device, precision=precision))


def _agreement(query_labels: np.ndarray, support_labels: np.ndarray, nn: Neighbours) -> np.ndarray:
    return (support_labels[nn.indices] == query_labels[:, None]).mean(axis=1)


def _density(nn: Neighbours) -> np.ndarray:
    return np.sqrt(nn.sq_distances).mean(axis=1)


def centroid_distance(features: Any, labels: Any) -> np.ndarray:
    """Distance to the own class centroid divided by the class's median such distance.

    1 = a typical member of its class; a class whose median distance is 0 keeps unnormalised distances.
    """
    x, y = _features_and_labels(features, labels)
    return _centroid_distance(x, y, x, y)


def _centroid_distance(x: np.ndarray, y: np.ndarray, support_x: np.ndarray, support_y: np.ndarray) -> np.ndarray:
    """Distances of (x, y) to the support's class centroids over the support's class medians (NaN: class absent
    from the support)."""
    out = np.full(len(x), np.nan)
    for c in np.unique(y):
        members, support_members = y == c, support_y == c
        if not support_members.any():
            continue
        centroid = support_x[support_members].astype(np.float64).mean(axis=0)
        dist = np.sqrt(((x[members].astype(np.float64) - centroid) ** 2).sum(axis=1))
        support_dist = dist if support_x is x else np.sqrt(((support_x[support_members] - centroid) ** 2).sum(axis=1))
        median = np.median(support_dist)
        out[members] = dist / median if median > 0 else dist
    return out


def class_frequency(labels: Any) -> np.ndarray:
    """Share of all instances that carry each instance's label."""
    y = check_labels(labels)
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)  # sized by the classes present
    return counts[codes.ravel()] / len(y)


def data_scores(
    features: Any,
    labels: Any,
    support_mask: Any = None,
    k: int = 30,
    device: Any = None,
    precision: str = "auto",
    memory_budget: int | str | None = None,
    search: KnnSearch | None = None,
) -> pd.DataFrame:
    """Registry adapter: the four data-perspective columns for every row of a table.

    The support set is the rows of ``support_mask`` (every row when ``None``): support rows are measured among
    themselves (each excluding itself), the other rows against the support rows; class frequency is the share
    of the support set with the instance's label. ``device``: where the k-NN search runs (default the CPU);
    ``precision``: of its candidate search (the same result for each); ``memory_budget``: read the support set in
    row blocks that fit it (:func:`~difficulty_widget.measures.knn_streamed.streamed_nearest_neighbours`);
    ``search``: the k-NN engine (a :data:`~difficulty_widget.measures.search.KnnSearch`; default in-process).
    """
    x, y = _features_and_labels(features, labels)
    rows = SupportRows.from_mask(support_mask, len(x))
    support_x, support_y = rows.take(x, rows.support), y[rows.support]
    k = min(check_positive_int(k, "k"), len(support_x) - 1)  # at most every other support row
    if k < 1:
        raise ValueError("data scores need at least two support (training) rows")
    support_classes, support_counts = np.unique(support_y, return_counts=True)  # sized by the classes present

    def frequency_of(query_y: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(support_classes, query_y), len(support_classes) - 1)
        return np.where(support_classes[at] == query_y, support_counts[at], 0) / len(support_y)

    parts = []
    for query_rows, exclude_self in ((rows.support, True), (rows.others, False)):
        if query_rows.size:
            query_x = support_x if exclude_self else rows.take(x, query_rows)
            query_y = y[query_rows]
            if search is not None:
                nn = search(query_x, support_x, k, exclude_self=exclude_self, precision=precision, device=device)
            elif memory_budget is None:
                nn = nearest_neighbours(
                    query_x, support_x, k, exclude_self=exclude_self, device=device, precision=precision
                )  # two scores
            else:
                nn = streamed_nearest_neighbours(
                    query_x, support_x, k, exclude_self=exclude_self, device=device, precision=precision,
                    memory_budget=memory_budget,
                )  # fmt: skip
            frame = pd.DataFrame(
                {
                    "knn_agreement": _agreement(query_y, support_y, nn),
                    "centroid_distance": _centroid_distance(query_x, query_y, support_x, support_y),
                    "local_density": _density(nn),
                    "class_frequency": frequency_of(query_y),
                }
            )
            parts.append((frame, query_rows))
    return combine(parts, rows.n)


_OPTIONAL = ("support_mask", "device", "precision", "memory_budget", "search")
for _measure in (
    Measure(
        "knn_agreement", "data", ("features", "labels"), "hard = low", "[0, 1]",
        "Share of the 30 nearest training neighbours (penultimate embedding, itself excluded) with the same label.",
        "Bahri, Jiang, Gupta, ICML 2020 (deep k-NN for noisy labels).", data_scores, _OPTIONAL,
    ),
    Measure(
        "centroid_distance", "data", ("features", "labels"), "hard = high", "[0, inf)",
        "Distance to the training class centroid over that class's median distance (1 = typical).",
        "Class-centroid distance, as in DESIGN.md section 3.", data_scores, _OPTIONAL,
    ),
    Measure(
        "local_density", "data", ("features", "labels"), "hard = high", "[0, inf)",
        "Mean distance to the 30 nearest training neighbours (itself excluded); high = sparse, atypical region.",
        "k-NN distance as a density estimate (Loftsgaarden & Quesenberry 1965).", data_scores, _OPTIONAL,
    ),
    Measure(
        "class_frequency", "data", ("features", "labels"), "hard = low", "(0, 1]",
        "Share of the training instances that carry the instance's label (imbalance).",
        "Class frequency.", data_scores, _OPTIONAL,
    ),
):  # fmt: skip
    register(_measure)
