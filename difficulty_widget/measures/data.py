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

from .._validation import check_labels
from .knn import Neighbours, check_features, nearest_neighbours
from .registry import Measure, register


def _features_and_labels(features: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    x = check_features(features, "features")
    return x, check_labels(labels, n=len(x))


def knn_label_agreement(features: Any, labels: Any, k: int = 30) -> np.ndarray:
    """Share (float64 in [0, 1]) of each instance's k nearest neighbours, itself excluded, with its label."""
    x, y = _features_and_labels(features, labels)
    return _agreement(y, nearest_neighbours(x, x, k, exclude_self=True))


def local_density(features: Any, k: int = 30) -> np.ndarray:
    """Mean Euclidean distance to the k nearest neighbours, itself excluded (high = sparse, atypical)."""
    x = check_features(features, "features")
    return _density(nearest_neighbours(x, x, k, exclude_self=True))


def _agreement(y: np.ndarray, nn: Neighbours) -> np.ndarray:
    return (y[nn.indices] == y[:, None]).mean(axis=1)


def _density(nn: Neighbours) -> np.ndarray:
    return np.sqrt(nn.sq_distances).mean(axis=1)


def centroid_distance(features: Any, labels: Any) -> np.ndarray:
    """Distance to the own class centroid divided by the class's median such distance.

    1 = a typical member of its class; a class whose median distance is 0 keeps unnormalised distances.
    """
    x, y = _features_and_labels(features, labels)
    x = x.astype(np.float64, copy=False)
    out = np.empty(len(x), dtype=np.float64)
    for c in np.unique(y):
        members = y == c
        dist = np.sqrt(((x[members] - x[members].mean(axis=0)) ** 2).sum(axis=1))
        median = np.median(dist)
        out[members] = dist / median if median > 0 else dist
    return out


def class_frequency(labels: Any) -> np.ndarray:
    """Share of all instances that carry each instance's label."""
    y = check_labels(labels)
    return np.bincount(y)[y] / len(y)


def data_scores(features: Any, labels: Any) -> pd.DataFrame:
    """Registry adapter: the four data-perspective columns with their defaults (k = 30)."""
    x, y = _features_and_labels(features, labels)
    nn = nearest_neighbours(x, x, min(30, len(x) - 1), exclude_self=True)  # one search for two scores
    return pd.DataFrame(
        {
            "knn_agreement": _agreement(y, nn),
            "centroid_distance": centroid_distance(x, y),
            "local_density": _density(nn),
            "class_frequency": class_frequency(y),
        }
    )


for _measure in (
    Measure(
        "knn_agreement", "data", ("features", "labels"), "hard = low", "[0, 1]",
        "Share of the 30 nearest neighbours (penultimate embedding, itself excluded) with the same label.",
        "Bahri, Jiang, Gupta, ICML 2020 (deep k-NN for noisy labels).", data_scores,
    ),
    Measure(
        "centroid_distance", "data", ("features", "labels"), "hard = high", "[0, inf)",
        "Distance to the class centroid divided by the class's median distance (1 = typical).",
        "Class-centroid distance, as in DESIGN.md section 3.", data_scores,
    ),
    Measure(
        "local_density", "data", ("features", "labels"), "hard = high", "[0, inf)",
        "Mean distance to the 30 nearest neighbours (itself excluded); high = sparse, atypical region.",
        "k-NN distance as a density estimate (Loftsgaarden & Quesenberry 1965).", data_scores,
    ),
    Measure(
        "class_frequency", "data", ("features", "labels"), "hard = low", "(0, 1]",
        "Share of all instances that carry the instance's label (imbalance).",
        "Class frequency.", data_scores,
    ),
):  # fmt: skip
    register(_measure)
