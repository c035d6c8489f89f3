"""Class-similarity matrices (C x C, float64, symmetric) from the weights and from the errors.

Filus, Romaszewski, Żarski (2025), "Semantic Depth Matters" (arXiv 2504.09956):
- structural similarity: the cosine similarity of the class templates, cos(w_a, w_b) = w_a · w_b / (|w_a| |w_b|),
  which needs no data;
- functional similarity: how often the model confuses two classes: the confusion matrix (rows true, columns
  predicted) normalised per row to sum 1, symmetrised as (A + Aᵀ) / 2, with the diagonal set to 1.
The semantic matrix comes from a hierarchy: :meth:`difficulty_widget.semantics.Hierarchy.similarity`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_labels, check_positive_int, to_numpy
from .templates import check_templates


def structural_similarity(templates: Any) -> np.ndarray:
    """Cosine similarity of the class templates (rows of ``templates``): C x C, symmetric, diagonal exactly 1."""
    w = check_templates(templates)
    w = w / np.abs(w).max(axis=1, keepdims=True)  # each row's largest entry 1 first: no overflow in the norm (1e200)
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    sim = unit @ unit.T
    sim = np.clip((sim + sim.T) / 2, -1.0, 1.0)
    np.fill_diagonal(sim, 1.0)
    return sim


def confusion_counts(labels: Any, predictions: Any, n_classes: int) -> np.ndarray:
    """The C x C confusion matrix of counts (int64): entry [t, p] counts instances of class t predicted as p."""
    n_classes = check_positive_int(n_classes, "n_classes")
    y = check_labels(labels, n_classes=n_classes, name="labels")
    yhat = check_labels(predictions, n=len(y), n_classes=n_classes, name="predictions")
    return np.bincount(y * n_classes + yhat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def functional_similarity(labels: Any, predictions: Any, n_classes: int) -> np.ndarray:
    """Similarity perceived through the errors: the confusion matrix (rows true, columns predicted), each row
    normalised to sum 1 (a class without instances keeps a row of zeros), symmetrised as (A + Aᵀ) / 2, diagonal 1.

    Off the diagonal, entry [a, b] is the mean of the rate at which a is predicted as b and b as a.
    """
    counts = confusion_counts(labels, predictions, n_classes).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    sim = (rates + rates.T) / 2
    np.fill_diagonal(sim, 1.0)
    return sim


def check_similarity(similarity: Any, n_classes: int | None = None, name: str = "similarity") -> np.ndarray:
    """Return ``similarity`` as a finite, square, symmetric float64 matrix (C >= 2; C = ``n_classes`` if given).

    Symmetry is checked up to a relative tolerance of 1e-8 and then made exact.
    """
    arr = to_numpy(similarity)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square (n_classes, n_classes) matrix, got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 classes, got shape {arr.shape}")
    if n_classes is not None and arr.shape[0] != n_classes:
        raise ValueError(
            f"{name} is {arr.shape[0]} x {arr.shape[0]}, expected {n_classes} x {n_classes} (one per class)"
        )
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) or arr.dtype == bool:
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    scale = max(float(np.abs(arr).max()), 1e-300)
    asym = float(np.abs(arr - arr.T).max())
    if asym > 1e-8 * scale:
        i, j = np.unravel_index(int(np.abs(arr - arr.T).argmax()), arr.shape)
        raise ValueError(
            f"{name} is not symmetric: entry [{i}, {j}] = {arr[i, j]!r} but [{j}, {i}] = {arr[j, i]!r} "
            "(symmetrise it, e.g. (S + S.T) / 2)"
        )
    return (arr + arr.T) / 2
