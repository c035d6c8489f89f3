"""Compliance of a model's errors with the similarities it perceives (and with a semantic hierarchy).

After Filus, Romaszewski, Żarski (2025), "Semantic Depth Matters" (arXiv 2504.09956): if the templates encode
which classes the model finds similar, its confusions should fall between those classes. For each pair of
matrices (functional vs structural, functional vs semantic, structural vs semantic):
- ``spearman`` and ``kendall``: rank correlation of their upper-triangle entries (i < j);
- ``cosine``: cosine similarity of their off-diagonal entries (upper triangle), each min-max normalised to [0, 1];
- ``edge_compliance``: the share of the first matrix's top-k edges per class (for the functional matrix, only
  confusions that happened: entries > 0) that are among the class's top-k neighbours in the second matrix, pooled
  over all classes. Ties at the k-th neighbour are all counted as top-k (a WordNet row has many ties), and
  ``edge_chance`` is the share expected by chance, the mean over the same edges of |top-k set| / (C - 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_bool, check_positive_int
from .similarity import check_similarity

COLUMNS = ["matrix_a", "matrix_b", "spearman", "kendall", "cosine", "edge_compliance", "edge_chance", "n_edges", "k"]


def compliance(structural: Any, functional: Any, semantic: Any = None, k: int = 3) -> pd.DataFrame:
    """The compliance table: one row per pair of matrices, columns as in the module docstring.

    ``structural`` (from the templates), ``functional`` (from the confusions) and optionally ``semantic`` (from a
    hierarchy) are C x C symmetric matrices over the same classes; ``k`` < C.
    """
    s = check_similarity(structural, name="structural")
    n = len(s)
    f = check_similarity(functional, n_classes=n, name="functional")
    matrices = {"structural": s, "functional": f}
    if semantic is not None:
        matrices["semantic"] = check_similarity(semantic, n_classes=n, name="semantic")
    k = check_positive_int(k, "k")
    if k >= n:
        raise ValueError(f"k must be smaller than the number of classes ({n}), got {k}")
    from scipy import stats  # imported here: scipy.stats is slow to import and only needed now

    pairs = [("functional", "structural")]
    if semantic is not None:
        pairs += [("functional", "semantic"), ("structural", "semantic")]
    rows = []
    iu = np.triu_indices(n, 1)
    for name_a, name_b in pairs:
        a, b = matrices[name_a], matrices[name_b]
        x, y = a[iu], b[iu]
        share, chance, n_edges = edge_compliance(a, b, k, positive_only=name_a == "functional")
        rows.append(
            {
                "matrix_a": name_a,
                "matrix_b": name_b,
                "spearman": _correlation(stats.spearmanr, x, y),
                "kendall": _correlation(stats.kendalltau, x, y),
                "cosine": _cosine(_minmax(x), _minmax(y)),
                "edge_compliance": share,
                "edge_chance": chance,
                "n_edges": n_edges,
                "k": k,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def edge_compliance(a: np.ndarray, b: np.ndarray, k: int, positive_only: bool = False) -> tuple[float, float, int]:
    """(share of a's top-k edges per class that are among b's top-k neighbours of that class, the chance share,
    the number of edges). a's top-k: the k largest off-diagonal entries of each row (ties to the lower index),
    only entries > 0 if ``positive_only``; b's top-k: every entry at least the row's k-th largest."""
    positive_only = check_bool(positive_only, "positive_only")
    n = len(a)
    off = ~np.eye(n, dtype=bool)
    hits = total = 0
    chance = 0.0
    for c in range(n):
        others = np.flatnonzero(off[c])
        order = others[np.lexsort((others, -a[c, others]))][:k]  # value descending, then index
        if positive_only:
            order = order[a[c, order] > 0]
        if not len(order):
            continue
        threshold = np.sort(b[c, others])[::-1][k - 1]
        top_b = b[c, others] >= threshold
        hits += int(np.isin(order, others[top_b]).sum())
        total += len(order)
        chance += len(order) * top_b.sum() / (n - 1)
    if total == 0:
        return float("nan"), float("nan"), 0
    return hits / total, chance / total, total


def _correlation(fn: Any, x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")  # a constant vector has no ranking
    return float(fn(x, y)[0])


def _minmax(x: np.ndarray) -> np.ndarray:
    span = np.ptp(x)
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def _cosine(x: np.ndarray, y: np.ndarray) -> float:
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y / norm) if norm > 0 else float("nan")
