"""Exact k nearest neighbours (Euclidean), shared by prediction depth, the data-perspective scores and the views.

The neighbours of a query are the first ``k`` support points in the order of (squared distance, support index),
so equal distances resolve to the lower index. Distances are searched with chunked float32 matrix products
(``|q|^2 - 2 q.s + |s|^2``) and ``topk`` of k + 16 candidates. Candidates whose float32 distance lies within
twice a float32 error bound of the k-th one may trade places with it: only those are re-measured in float64 and
the set completed by (distance, index); if that band reaches past the candidates (many exact ties, say), the
row is recomputed in float64 against every support point. The result equals a float64 brute force; the
neighbours' distances are re-measured in float64 with the direct formula ``sum((s - q)^2)`` when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_positive_int, to_numpy

_UNIT_ROUNDOFF32 = 2.0**-24
_BLOCK_VALUES = 2**23  # values per temporary block (64 MB of float64)
#: Extra float32 candidates per row beyond k, so that a near-tie band rarely needs the full float64 row.
EXTRA_CANDIDATES = 16


@dataclass
class Neighbours:
    """``indices`` (N x k, int64) into the support set and their squared distances (N x k, float64),
    each row ordered by (distance, index)."""

    indices: np.ndarray
    sq_distances: np.ndarray
    fallback_rows: int = 0  # rows that needed the full float64 pass (for benchmarks and tests)
    error_bounds: np.ndarray | None = None  # per row, a bound on |sq_distances - exact| (None: exact)


def check_features(features: Any, name: str) -> np.ndarray:
    """A finite 2-D float array (N x d) with N >= 1."""
    arr = to_numpy(features)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_instances, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        step = max(1, _BLOCK_VALUES // arr.shape[1])  # checked in blocks: no full-size boolean temporary
        if not all(np.isfinite(arr[i : i + step]).all() for i in range(0, len(arr), step)):
            raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def nearest_neighbours(
    query: Any,
    support: Any,
    k: int,
    *,
    exclude_self: bool = False,
    exact_distances: bool = True,
    chunk_size: int | None = None,
    device: Any = None,
) -> Neighbours:
    """The exact ``k`` nearest support points of every query (see the module docstring for the rule).

    ``exclude_self=True`` means the queries are the support set (same rows): each row's own entry is dropped.
    The *set* of neighbours is always exact. With ``exact_distances=True`` (default) their squared distances
    are re-measured in float64 and each row is ordered by (distance, index); with ``False`` (what prediction
    depth needs: a vote depends on the set only) rows are ordered by the float32 distances, which are returned,
    and no float64 pass is made over the neighbours. ``chunk_size`` bounds memory: queries are processed in
    chunks of that many rows (default: about 2**25 float32 distances per chunk, 128 MB).
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

    # no float64 copy of the whole support set: rows are converted block by block when needed
    s32 = torch.from_numpy(np.ascontiguousarray(s, dtype=np.float32)).to(dev)
    s_norm2 = (s32 * s32).sum(1)
    s_norm_max = float(np.sqrt(s_norm2.double().max().item())) * (1 + 1e-3)
    # float32 error of |q|^2 - 2 q.s + |s|^2: the probabilistic bound of Higham & Mary (SIAM J. Sci. Comput.
    # 2019), lambda sqrt(d) u (|q| + |s|)^2 with lambda = 8, far below what BLAS summation reaches in practice
    tolerance = 8.0 * np.sqrt(q.shape[1] + 4) * _UNIT_ROUNDOFF32
    n_cand = min(k + EXTRA_CANDIDATES, available)

    indices = np.empty((n_q, k), dtype=np.int64)
    sq_dist = np.empty((n_q, k), dtype=np.float64)
    bounds_out = np.zeros(n_q, dtype=np.float64)
    fallback = 0
    for start in range(0, n_q, chunk_size):
        stop = min(n_q, start + chunk_size)
        q32 = torch.from_numpy(np.ascontiguousarray(q[start:stop], dtype=np.float32)).to(dev)
        # |s|^2 - 2 q.s in one fused product; |q|^2 is constant along a row, so it is added after the search
        d32 = torch.addmm(s_norm2[None, :], q32, s32.T, beta=1.0, alpha=-2.0)
        if exclude_self:
            rows = torch.arange(stop - start, device=dev)
            d32[rows, rows + start] = float("inf")
        top_vals, top_idx = torch.topk(d32, n_cand, dim=1, largest=False, sorted=True)
        del d32
        q_norm2 = (q[start:stop].astype(np.float64) ** 2).sum(1)
        vals = top_vals.double().cpu().numpy() + q_norm2[:, None]
        cand = top_idx.cpu().numpy()
        q_norm = np.sqrt(q_norm2)
        err = tolerance * (q_norm + s_norm_max) ** 2
        bounds_out[start:stop] = err
        kth = vals[:, k - 1]
        # candidates within 2 err of the k-th float32 distance may trade places with it: re-measure those in
        # float64; candidates below the band are in the set for sure, those above it out for sure
        band = np.abs(vals - kth[:, None]) <= 2 * err[:, None]
        sure = vals < (kth - 2 * err)[:, None]
        complete = (vals[:, -1] > kth + 2 * err) | (n_cand == available)
        chunk_idx = cand[:, :k].copy()
        chunk_d = vals[:, :k].copy()
        # most rows: the float32 set is the exact set; the others re-measure their band in one batch
        banded = np.flatnonzero(complete & (band.sum(axis=1) > 1))
        if banded.size:
            band_rows, band_pos = np.nonzero(band[banded])
            pairs_q = q[start + banded[band_rows]]
            pairs_s = cand[banded[band_rows], band_pos]
            exact = _pair_sq_dist(pairs_q, s, pairs_s)
            bounds = np.searchsorted(band_rows, np.arange(len(banded) + 1))
            for j, row in enumerate(banded):
                lo, hi = bounds[j], bounds[j + 1]
                positions = band_pos[lo:hi]
                n_sure = int(sure[row].sum())
                chosen = positions[np.lexsort((cand[row, positions], exact[lo:hi]))[: k - n_sure]]
                keep = np.concatenate([np.arange(n_sure), np.sort(chosen)])
                chunk_idx[row], chunk_d[row] = cand[row, keep], vals[row, keep]
        for row in np.flatnonzero(~complete):
            own = start + row if exclude_self else None
            chunk_idx[row], chunk_d[row] = _exact_row(q[start + row].astype(np.float64), s, k, own)
            fallback += 1
        if exact_distances:
            exact = direct_sq_dist(q[start:stop].astype(np.float64), s, chunk_idx)
            order = np.lexsort((chunk_idx, exact), axis=-1)  # by distance, then index
            chunk_idx = np.take_along_axis(chunk_idx, order, 1)
            chunk_d = np.take_along_axis(exact, order, 1)
        indices[start:stop] = chunk_idx
        sq_dist[start:stop] = chunk_d
    return Neighbours(
        indices=indices,
        sq_distances=sq_dist,
        fallback_rows=fallback,
        error_bounds=None if exact_distances else bounds_out,
    )


def direct_sq_dist(q: np.ndarray, s: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """sum((s - q)^2) in float64 for each query row and its candidate support rows, in bounded blocks."""
    out = np.empty(cand.shape, dtype=np.float64)
    rows = max(1, _BLOCK_VALUES // (cand.shape[1] * s.shape[1]))
    for i in range(0, len(q), rows):
        block = s[cand[i : i + rows]].astype(np.float64)
        out[i : i + rows] = ((block - q[i : i + rows, None, :]) ** 2).sum(-1)
    return out


def _pair_sq_dist(q_rows: np.ndarray, s: np.ndarray, s_index: np.ndarray) -> np.ndarray:
    """sum((s[j] - q)^2) in float64 for pairs (q_rows[i], s[s_index[i]]), in bounded blocks."""
    out = np.empty(len(s_index), dtype=np.float64)
    step = max(1, _BLOCK_VALUES // s.shape[1])
    for i in range(0, len(s_index), step):
        diff = s[s_index[i : i + step]].astype(np.float64) - q_rows[i : i + step].astype(np.float64)
        out[i : i + step] = (diff**2).sum(1)
    return out


def _exact_row(q: np.ndarray, s: np.ndarray, k: int, own: int | None) -> tuple[np.ndarray, np.ndarray]:
    """One query against every support point in float64, ordered by (distance, index)."""
    step = max(1, _BLOCK_VALUES // s.shape[1])
    d = np.concatenate(
        [((s[j : j + step].astype(np.float64) - q[None, :]) ** 2).sum(1) for j in range(0, len(s), step)]
    )
    if own is not None:
        d[own] = np.inf
    order = np.argsort(d, kind="stable")[:k]
    return order, d[order]


def class_counts_and_sums(
    neighbour_labels: np.ndarray, sq_distances: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row and class: how many of the neighbours carry the class, and the sum of their squared distances."""
    n = len(neighbour_labels)
    flat = (np.arange(n)[:, None] * n_classes + neighbour_labels).ravel()
    counts = np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes)
    sums = np.bincount(flat, weights=sq_distances.ravel(), minlength=n * n_classes).reshape(n, n_classes)
    return counts, sums


def majority_vote(neighbour_labels: np.ndarray, sq_distances: np.ndarray, n_classes: int) -> np.ndarray:
    """The k-NN vote per row: the most frequent label; ties go to the class whose tied neighbours have the
    smallest sum of squared distances, then to the smaller class index."""
    counts, sums = class_counts_and_sums(neighbour_labels, sq_distances, n_classes)
    top = counts.max(axis=1, keepdims=True)
    return np.where(counts == top, sums, np.inf).argmin(axis=1)
