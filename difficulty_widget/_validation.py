"""Input validation shared by every public function: one place, messages that name the argument.

Every check raises ``ValueError`` saying which argument was wrong, what it was, and what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(value: Any) -> np.ndarray:
    """A NumPy view of an array-like or a torch tensor (moved to the CPU, detached)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor without importing torch
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def check_instances_by_classes(values: Any, name: str) -> np.ndarray:
    """``values`` as an array of shape (N, C) with N >= 1 and C >= 2 (dtype unchecked)."""
    arr = to_numpy(values)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n_instances, n_classes), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected shape (n_instances, n_classes) with n_instances >= 1")
    if arr.shape[1] < 2:
        raise ValueError(f"{name} must have at least 2 classes (columns), got shape {arr.shape}")
    return arr


def check_logits(logits: Any, name: str = "logits") -> np.ndarray:
    """Return ``logits`` as a finite float64 array of shape (N, C) with N >= 1 and C >= 2."""
    arr = check_instances_by_classes(logits, name)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ValueError(f"{name} contains NaN or infinite values in {bad} row(s); expected finite numbers")
    return arr


def check_labels(labels: Any, n: int | None = None, n_classes: int | None = None, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as an int64 vector of length ``n`` with values in ``[0, n_classes)``."""
    arr = to_numpy(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class indices, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected {n} (one label per instance)")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least one label")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    low, high = int(arr.min()), int(arr.max())
    if low < 0 or (n_classes is not None and high >= n_classes):
        expected = f"[0, {n_classes})" if n_classes is not None else ">= 0"
        raise ValueError(f"{name} must lie in {expected}, got values from {low} to {high}")
    return arr


def check_images(images: Any, name: str = "images") -> np.ndarray:
    """Return ``images`` as uint8 of shape (N, H, W) or (N, H, W, 3) with N >= 1."""
    arr = to_numpy(images)
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise ValueError(f"{name} must have shape (n, height, width) or (n, height, width, 3), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least one image")
    if arr.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (0..255), got dtype {arr.dtype}")
    return arr


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as a positive int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_non_negative_int(value: Any, name: str) -> int:
    """Return ``value`` as an int >= 0 (booleans and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def lookup_positions(
    index_ids: np.ndarray, wanted: np.ndarray, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of ``wanted`` ids in ``index_ids`` (binary search; ``order`` = a precomputed argsort),
    and a mask of the wanted ids that are not there (their positions are meaningless)."""
    index_ids, wanted = np.asarray(index_ids), np.asarray(wanted)
    if order is None:
        order = np.argsort(index_ids, kind="stable")
    if len(index_ids) == 0:
        return np.zeros(len(wanted), dtype=np.int64), np.ones(len(wanted), dtype=bool)
    found = np.searchsorted(index_ids[order], wanted).clip(0, len(index_ids) - 1)
    positions = order[found].astype(np.int64)
    return positions, index_ids[positions] != wanted
