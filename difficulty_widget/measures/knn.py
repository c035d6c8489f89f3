"""Exact k nearest neighbours (Euclidean), shared by prediction depth, the data-perspective scores and the views.

The neighbours of a query are the first ``k`` support points in the order of (squared distance, support index),
so equal distances resolve to the lower index. Distances are searched with chunked float32 matrix products
(``|q|^2 - 2 q.s + |s|^2``) and ``topk``; the candidates are then re-measured in float64 with the direct
formula ``sum((s - q)^2)``. A row is accepted only when a rigorous bound on the float32 rounding error proves
that no point outside the candidates can reach the k-th distance; otherwise (exact ties at the boundary, say)
that row is recomputed in float64 against every support point. The result equals a float64 brute force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_positive_int, to_numpy

_UNIT_ROUNDOFF32 = 2.0**-24
#: Extra float32 candidates per row beyond k, so that the float64 re-check rarely has to fall back.
EXTRA_CANDIDATES = 16


@dataclass
class Neighbours:
    """``indices`` (N x k, int64) into the support set and their squared distances (N x k, float64),
    each row ordered by (distance, index)."""

    indices: np.ndarray
    sq_distances: np.ndarray
    fallback_rows: int = 0  # rows that needed the full float64 pass (for benchmarks and tests)


def check_features(features: Any, name: str) -> np.ndarray:
    """A finite 2-D float array (N x d) with N >= 1."""
    arr = to_numpy(features)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_instances, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def nearest_neighbours(
    query: Any,
    support: Any,
    k: int,
    *,
    exclude_self: bool = False,
    chunk_size: int | None = None,
    device: Any = None,
) -> Neighbours:
    """The exact ``k`` nearest support points of every query (see the module docstring for the rule).

    ``exclude_self=True`` means the queries are the support set (same rows): each row's own entry is dropped.
    ``chunk_size`` bounds memory: queries are processed in chunks of that many rows (default: about 2**25
    float32 distances per chunk, 128 MB).
    """
    import torch  # imported here: scoring from a DataFrame never loads torch

    q = check_features(query, "query")
    s = check_features(support, "support")
    if q.shape[1] != s.shape[1]:
        raise ValueError(f"query has {q.shape[1]} features but support has {s.shape[1]}")
    k = check_positive_int(k, "k")
    available = len(s) - (1 if exclude_self else 0)
    if exclude_self and len(q) != len(s):
        raise ValueError(f"exclude_self=True needs the queries to be the support set, got {len(q)} and {len(s)} rows")
    if k > available:
        limit = "n_support - 1 (exclude_self)" if exclude_self else "n_support"
        raise ValueError(f"k={k} is larger than {limit} = {available}")
    n_q, n_s = len(q), len(s)
    if chunk_size is None:
        chunk_size = max(1, 2**25 // n_s)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    dev = torch.device(device) if device is not None else torch.device("cpu")

    q64 = q.astype(np.float64, copy=False)
    s64 = s.astype(np.float64, copy=False)
    s32 = torch.from_numpy(np.ascontiguousarray(s, dtype=np.float32)).to(dev)
    s_norm2 = (s32 * s32).sum(1)
    s_norm_max = float(np.sqrt((s64 * s64).sum(1).max()))
    # rigorous bound on |d32 - d| for a pair: gamma_{d+4} (|q| + |s|)^2 (dot products, norms, casts, adds)
    dims = q.shape[1] + 4
    gamma = dims * _UNIT_ROUNDOFF32 / (1 - dims * _UNIT_ROUNDOFF32)
    n_cand = min(k + EXTRA_CANDIDATES, available)

    indices = np.empty((n_q, k), dtype=np.int64)
    sq_dist = np.empty((n_q, k), dtype=np.float64)
    fallback = 0
    for start in range(0, n_q, chunk_size):
        stop = min(n_q, start + chunk_size)
        q32 = torch.from_numpy(np.ascontiguousarray(q[start:stop], dtype=np.float32)).to(dev)
        d32 = (q32 * q32).sum(1, keepdim=True) - 2.0 * (q32 @ s32.T) + s_norm2[None, :]
        if exclude_self:
            rows = torch.arange(stop - start, device=dev)
            d32[rows, rows + start] = float("inf")
        top_vals, top_idx = torch.topk(d32, n_cand, dim=1, largest=False, sorted=True)
        del d32
        cand = top_idx.cpu().numpy()
        boundary = top_vals[:, -1].double().cpu().numpy()  # float32 distance of the last candidate
        q_chunk = q64[start:stop]
        exact = _direct_sq_dist(q_chunk, s64, cand)
        order = np.lexsort((cand, exact), axis=-1)[:, :k]  # by distance, then index
        chunk_idx = np.take_along_axis(cand, order, 1)
        chunk_d = np.take_along_axis(exact, order, 1)
        q_norm = np.sqrt((q_chunk * q_chunk).sum(1))
        err = gamma * (q_norm + s_norm_max) ** 2 * 1.01 + 1e-300
        safe = (n_cand == available) | (chunk_d[:, -1] < boundary - err)
        for row in np.flatnonzero(~safe):
            chunk_idx[row], chunk_d[row] = _exact_row(q_chunk[row], s64, k, start + row if exclude_self else None)
            fallback += 1
        indices[start:stop] = chunk_idx
        sq_dist[start:stop] = chunk_d
    return Neighbours(indices=indices, sq_distances=sq_dist, fallback_rows=fallback)


_BLOCK_VALUES = 2**23  # float64 values per temporary block (64 MB)


def _direct_sq_dist(q: np.ndarray, s64: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """sum((s - q)^2) in float64 for each query row and its candidate support rows, in bounded blocks."""
    out = np.empty(cand.shape, dtype=np.float64)
    rows = max(1, _BLOCK_VALUES // (cand.shape[1] * s64.shape[1]))
    for i in range(0, len(q), rows):
        out[i : i + rows] = ((s64[cand[i : i + rows]] - q[i : i + rows, None, :]) ** 2).sum(-1)
    return out


def _exact_row(q: np.ndarray, s64: np.ndarray, k: int, own: int | None) -> tuple[np.ndarray, np.ndarray]:
    """One query against every support point in float64, ordered by (distance, index)."""
    step = max(1, _BLOCK_VALUES // s64.shape[1])
    d = np.concatenate([((s64[j : j + step] - q[None, :]) ** 2).sum(1) for j in range(0, len(s64), step)])
    if own is not None:
        d[own] = np.inf
    order = np.argsort(d, kind="stable")[:k]
    return order, d[order]


def majority_vote(neighbour_labels: np.ndarray, sq_distances: np.ndarray, n_classes: int) -> np.ndarray:
    """The k-NN vote per row: the most frequent label; ties go to the class whose tied neighbours have the
    smallest sum of squared distances, then to the smaller class index."""
    n = len(neighbour_labels)
    counts = np.zeros((n, n_classes), dtype=np.int64)
    sums = np.zeros((n, n_classes), dtype=np.float64)
    rows = np.repeat(np.arange(n), neighbour_labels.shape[1])
    np.add.at(counts, (rows, neighbour_labels.ravel()), 1)
    np.add.at(sums, (rows, neighbour_labels.ravel()), sq_distances.ravel())
    top = counts.max(axis=1, keepdims=True)
    return np.where(counts == top, sums, np.inf).argmin(axis=1)
