"""Similarity Depth (SD): how deep in a semantic hierarchy the similarities a model perceives sit.

Filus, Romaszewski, Żarski (2025), "Semantic Depth Matters" (arXiv 2504.09956), following the authors' public
code (``compute_stats``: ``partition_graph``, ``create_cluster_msts``, ``wup_similarity_depth``):
1. min-max normalise the class-similarity matrix S over all its entries (diagonal included): S' in [0, 1];
2. group the classes by clustering S': affinity propagation on S' (precomputed affinities; the default),
   Louvain communities of the graph of classes weighted by S', or OPTICS / HDBSCAN on the distance 1 - S'.
   OPTICS and HDBSCAN leave "noise" classes (label -1); as in the authors' code they form one more group
   (``noise="group"``), or each its own (``noise="singletons"``). One departure: our Louvain graph has no
   self-loops; the authors' kept the diagonal as self-loops of weight 1, which on a functional matrix (small
   off-diagonal confusion rates) makes every class a community of its own. Another: where affinity propagation
   does not converge at scikit-learn's defaults (tied similarities, as in WordNet's Wu-Palmer matrix of the 1000
   ImageNet classes), it runs once more with damping 0.9 and 1000 iterations instead of returning a degenerate
   partition with a ConvergenceWarning;
3. inside each group, the maximum spanning tree of the complete graph weighted by the similarity;
4. for every tree edge (a, b): the lowest common ancestor in the hierarchy and its depth (root = 1; WordNet:
   ``max_depth() + 1`` of the lowest common hypernym), and the Wu-Palmer similarity of a and b;
5. SD = the mean LCA depth over all tree edges of all groups (``mean_wup`` likewise). A deeper SD means the
   classes the model finds similar share a more specific ancestor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_seed, to_numpy
from .hierarchy import Hierarchy
from .similarity import check_similarity

GROUPINGS = ("affinity", "louvain", "optics", "hdbscan")
NOISE = ("group", "singletons")


@dataclass(frozen=True)
class SimilarityDepth:
    """The result of :func:`similarity_depth`.

    ``value``: mean LCA depth over the tree edges (NaN when every group is a single class); ``mean_wup``: mean
    Wu-Palmer similarity over the same edges; ``groups``: the group (0 .. n_groups - 1, in order of first class)
    of each class; ``edges``: one row per tree edge with columns a, b (class indices, a < b), group, similarity,
    subsumer (the LCA node), depth, wup; ``grouping``: the method, or ``"explicit"``.
    """

    value: float
    mean_wup: float
    n_groups: int
    groups: np.ndarray = field(repr=False)
    edges: pd.DataFrame = field(repr=False)
    grouping: str = "affinity"

    @property
    def n_edges(self) -> int:
        return len(self.edges)


def normalise_similarity(similarity: Any) -> np.ndarray:
    """Min-max normalisation over all entries, diagonal included, to [0, 1] (a constant matrix gives all ones)."""
    sim = check_similarity(similarity)
    low, span = float(sim.min()), float(np.ptp(sim))
    return (sim - low) / span if span > 0 else np.ones_like(sim)


def group_classes(similarity: Any, method: str = "affinity", seed: int = 0, noise: str = "group") -> np.ndarray:
    """Partition the classes by clustering the similarity matrix (see the module docstring): group id per class,
    0 .. n_groups - 1 in order of first appearance."""
    seed = check_seed(seed, "seed")
    if method not in GROUPINGS:
        raise ValueError(f"groups must be one of {GROUPINGS} or an array of group ids, got {method!r}")
    if noise not in NOISE:
        raise ValueError(f"noise must be one of {NOISE}, got {noise!r}")
    norm = normalise_similarity(similarity)
    n = len(norm)
    if method == "affinity":
        labels = _affinity_propagation(norm, seed)
    elif method == "louvain":
        import networkx as nx
        from networkx.algorithms.community import louvain_communities

        graph = nx.Graph()
        graph.add_nodes_from(range(n))
        a, b = np.nonzero(np.triu(norm, 1) > 0)  # every pair with a nonzero weight; no self-loops
        graph.add_weighted_edges_from(zip(a.tolist(), b.tolist(), norm[a, b].tolist(), strict=True))
        labels = np.empty(n, dtype=np.int64)
        for k, community in enumerate(louvain_communities(graph, weight="weight", seed=seed)):
            labels[list(community)] = k
    else:
        distance = 1.0 - norm
        np.fill_diagonal(distance, 0.0)
        if method == "optics":
            from sklearn.cluster import OPTICS

            labels = OPTICS(metric="precomputed", min_samples=min(5, n)).fit_predict(distance)
        else:
            from sklearn.cluster import HDBSCAN

            labels = HDBSCAN(metric="precomputed", min_cluster_size=min(5, n), copy=True).fit_predict(distance)
        if noise == "singletons":
            labels = np.where(labels < 0, labels.max(initial=-1) + 1 + np.arange(n), labels)
    return _first_appearance(labels)


def _affinity_propagation(norm: np.ndarray, seed: int) -> np.ndarray:
    """Affinity propagation at scikit-learn's defaults (damping 0.5, 200 iterations); when that does not converge
    (tied similarities make the messages oscillate: WordNet's 1000-class Wu-Palmer matrix does), once more with
    damping 0.9 and 1000 iterations, scikit-learn's advice for oscillations. No ConvergenceWarning escapes: a run
    that converges in neither gives a ValueError."""
    import warnings

    from sklearn.cluster import AffinityPropagation
    from sklearn.exceptions import ConvergenceWarning

    for options in ({}, {"damping": 0.9, "max_iter": 1000}):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            try:
                labels = AffinityPropagation(affinity="precomputed", random_state=seed, **options).fit_predict(norm)
            except ConvergenceWarning:
                continue
        if not (labels < 0).all():
            return labels
    raise ValueError("similarity: affinity propagation did not converge (also with damping 0.9); try another grouping")


def maximum_spanning_tree(weights: Any) -> np.ndarray:
    """Edges (n - 1 rows of [a, b], a < b) of a maximum spanning tree of the complete graph with edge weights
    ``weights`` (symmetric n x n). Prim's algorithm on the dense matrix, O(n^2); ties go to the lower index. With
    distinct weights this is the unique maximum spanning tree (the one ``networkx.maximum_spanning_tree`` finds)."""
    w = np.asarray(weights, dtype=np.float64)
    n = len(w)
    edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    if n < 2:
        return edges
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    best = w[0].copy()
    parent = np.zeros(n, dtype=np.int64)
    for k in range(n - 1):
        j = int(np.argmax(np.where(in_tree, -np.inf, best)))
        edges[k] = sorted((int(parent[j]), j))
        in_tree[j] = True
        better = ~in_tree & (w[j] > best)
        best[better] = w[j, better]
        parent[better] = j
    return edges


def similarity_depth(
    similarity: Any, hierarchy: Hierarchy, groups: Any = "affinity", seed: int = 0, noise: str = "group"
) -> SimilarityDepth:
    """Similarity Depth of a class-similarity matrix in a hierarchy.

    Parameters
    ----------
    similarity : C x C symmetric class similarity (structural, functional or semantic).
    hierarchy : a :class:`Hierarchy` (or :class:`WordNetHierarchy`) over the same C classes, in the same order.
    groups : ``"affinity"`` (default), ``"louvain"``, ``"optics"``, ``"hdbscan"``, or an array of C group ids.
    seed : random state of affinity propagation and Louvain.
    noise : what OPTICS / HDBSCAN noise classes become: ``"group"`` (one group, as the authors' code) or
        ``"singletons"`` (no tree edges).
    """
    if not isinstance(hierarchy, Hierarchy):
        raise ValueError(f"hierarchy must be a Hierarchy or WordNetHierarchy, got {type(hierarchy).__name__}")
    sim = check_similarity(similarity, n_classes=hierarchy.n_classes)
    if isinstance(groups, str):
        labels = group_classes(sim, groups, seed=seed, noise=noise)
        grouping = groups
    else:
        labels = _explicit_groups(groups, len(sim))
        grouping = "explicit"
    rows = []
    for g in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == g)
        for a, b in maximum_spanning_tree(sim[np.ix_(members, members)]):
            rows.append((members[a], members[b], g))
    pairs = np.array(rows, dtype=np.int64).reshape(-1, 3)
    a, b = pairs[:, 0], pairs[:, 1]
    edges = pd.DataFrame(
        {
            "a": a,
            "b": b,
            "group": pairs[:, 2],
            "similarity": sim[a, b],
            "subsumer": pd.Series(hierarchy.lcas(a, b), dtype=object),
            "depth": hierarchy.lca_depths(a, b),
            "wup": np.asarray(hierarchy.wup(a, b), dtype=np.float64),
        }
    )
    value = float(edges["depth"].mean()) if len(edges) else float("nan")
    mean_wup = float(edges["wup"].mean()) if len(edges) else float("nan")
    return SimilarityDepth(value, mean_wup, int(labels.max()) + 1, labels, edges, grouping)


def _explicit_groups(groups: Any, n: int) -> np.ndarray:
    arr = to_numpy(groups)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(
            f"groups must be a method name or an array of {n} group ids (one per class), got shape {arr.shape}"
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("groups contains NaN or infinite values")
    return _first_appearance(arr)


def _first_appearance(labels: np.ndarray) -> np.ndarray:
    """Relabel to 0 .. G - 1 in order of first appearance (every distinct value is a group)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]
