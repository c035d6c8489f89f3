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


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a bool: only ``True`` / ``False`` (or NumPy's), never 0.5, 1 or the string 'False'."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float in the given range (booleans, strings and NaN are refused).

    ``low`` / ``high`` are inclusive bounds unless ``low_open`` / ``high_open``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    number = float(value)
    below = low is not None and (number <= low if low_open else number < low)
    above = high is not None and (number >= high if high_open else number > high)
    if not np.isfinite(number) or below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        span = f" in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(
            f"{name} must be a finite number{span if low is not None or high is not None else ''}, got {value!r}"
        )
    return number


def check_seed(value: Any, name: str = "seed") -> int | None:
    """Return ``value`` as a seed for NumPy / torch: None or an integer in [0, 2**63)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**63:
        raise ValueError(f"{name} must be None or an integer in [0, 2**63), got {value!r}")
    return int(value)


def check_names(value: Any, name: str, n: int | None = None) -> list[str]:
    """Return ``value`` as a list of ``n`` strings (one string or bytes is refused: it is not a list of names)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list of strings, got {type(value).__name__} {value!r:.60}")
    names = list(value)
    for i, item in enumerate(names):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be a string, got {type(item).__name__} {item!r:.60}")
    if n is not None and len(names) != n:
        raise ValueError(f"{name} has {len(names)} names, expected {n}")
    return names


def check_real_array(value: Any, name: str, *, finite: bool = False) -> np.ndarray:
    """Return ``value`` as a float64 array: integer or floating dtype only (no complex, strings, objects, bools)."""
    arr = to_numpy(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if finite and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(arr)).sum())} NaN or infinite value(s); expected finite")
    return arr


def power_of_two_scale(features: np.ndarray) -> float:
    """A power of two ``s`` such that ``features / s`` has its largest magnitude in [1, 2) (1.0 for all zeros).

    Dividing by a power of two is exact in binary floating point (barring underflow of values 2**-1000 times
    smaller than the largest), so neighbour order and ties are kept while squares can no longer overflow.
    """
    finite = np.abs(features[np.isfinite(features)]) if features.size else features
    peak = float(finite.max()) if finite.size else 0.0
    if peak == 0.0:
        return 1.0
    return float(2.0 ** np.floor(np.log2(peak)))
