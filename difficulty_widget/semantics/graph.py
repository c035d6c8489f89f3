"""The class graph: classes as nodes placed by their structural similarity, with the model's confusions on top.

After Filus, Romaszewski, Żarski (2025), "Semantic Depth Matters" (arXiv 2504.09956): the solid edges are the
similarities the model perceives in its class templates (the maximum-spanning-tree edges inside each Similarity
Depth group, or each class's top-k structural neighbours); the confusion edges are the errors it makes, and a
confusion is *explained* by structural similarity when one class of the pair is among the other's top-k
structural neighbours. Nodes are coloured by their group or by their hierarchy ancestor at a chosen depth. The
layout (networkx spring layout, seeded) is computed here; the Explorer only draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_seed
from .depth import SimilarityDepth, _explicit_groups, group_classes, maximum_spanning_tree
from .hierarchy import Hierarchy
from .similarity import check_similarity, confusion_counts

EDGE_KINDS = ("tree", "knn")
COLOR_BY = ("group", "ancestor", None)


@dataclass(frozen=True)
class ClassGraph:
    """A laid-out class graph (see :func:`class_graph`).

    ``nodes``: one row per class: class (index), name, x, y, color (the group or ancestor name), n_neighbours.
    ``edges``: one row per edge: kind (``"similarity"`` or ``"confusion"``), a, b (class indices, a < b),
    similarity (structural), count (confusions a -> b plus b -> a; 0 for similarity edges), a_to_b, b_to_a,
    explained (a confusion between top-k structural neighbours; True for similarity edges).
    """

    nodes: pd.DataFrame = field(repr=False)
    edges: pd.DataFrame = field(repr=False)
    color_by: str | None
    edge_kind: str
    k: int

    @property
    def n_classes(self) -> int:
        return len(self.nodes)

    @property
    def confusion_edges(self) -> pd.DataFrame:
        return self.edges[self.edges["kind"] == "confusion"]

    @property
    def similarity_edges(self) -> pd.DataFrame:
        return self.edges[self.edges["kind"] == "similarity"]

    def __repr__(self) -> str:
        n_conf = len(self.confusion_edges)
        explained = float(self.confusion_edges["explained"].mean()) if n_conf else float("nan")
        return (
            f"ClassGraph({self.n_classes} classes, {len(self.similarity_edges)} {self.edge_kind} edges, "
            f"{n_conf} confusion edges, {explained:.0%} explained by the top-{self.k} structural neighbours)"
        )


def top_k_neighbours(similarity: Any, k: int) -> np.ndarray:
    """(C, k) indices of each class's k most similar other classes, most similar first (ties to the lower index)."""
    sim = check_similarity(similarity)
    n = len(sim)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ValueError(f"k must be an integer in [1, {n - 1}] (the number of other classes), got {k!r}")
    masked = sim.copy()
    np.fill_diagonal(masked, -np.inf)
    index = np.broadcast_to(np.arange(n), (n, n))
    order = np.lexsort((index, -masked), axis=1)  # value descending, then index ascending
    return order[:, :k]


def class_graph(
    structural: Any,
    *,
    class_names: Sequence[str] | None = None,
    labels: Any = None,
    predictions: Any = None,
    confusion: Any = None,
    hierarchy: Hierarchy | None = None,
    color_by: str | None = "group",
    ancestor_depth: int = 3,
    groups: Any = "affinity",
    edges: str = "tree",
    k: int = 3,
    min_count: int = 1,
    max_confusion_edges: int | None = None,
    seed: int = 0,
    iterations: int = 50,
) -> ClassGraph:
    """Lay out the class graph of a classifier.

    Parameters
    ----------
    structural : C x C structural similarity (:func:`structural_similarity` of the class templates).
    class_names : C names (default: ``"0" .. "C-1"``; a hierarchy's class nodes when one is given).
    labels, predictions : per-instance labels and predictions for the confusion edges (or ``confusion``, a C x C
        count matrix, rows true). Without either, the graph has no confusion edges.
    hierarchy : colours nodes by their ancestor at ``ancestor_depth`` when ``color_by="ancestor"``.
    color_by : ``"group"`` (the Similarity Depth groups), ``"ancestor"`` or None.
    groups : how to group the classes: a grouping method of :func:`group_classes`, an array of group ids, or a
        :class:`SimilarityDepth` result (its groups).
    edges : ``"tree"`` (maximum spanning tree inside each group, as Similarity Depth) or ``"knn"`` (each class
        to its ``k`` most similar classes).
    k : the structural neighbourhood that "explains" a confusion (and the ``"knn"`` edge count).
    min_count, max_confusion_edges : keep confusion pairs with at least ``min_count`` errors (both directions
        summed), at most ``max_confusion_edges`` of them, the largest first (default: 3 per class).
    seed, iterations : of the spring layout.
    """
    seed = check_seed(seed, "seed")
    sim = check_similarity(structural, name="structural")
    n = len(sim)
    names = _class_names(class_names, hierarchy, n)
    if edges not in EDGE_KINDS:
        raise ValueError(f"edges must be one of {EDGE_KINDS}, got {edges!r}")
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {COLOR_BY}, got {color_by!r}")
    if color_by == "ancestor" and hierarchy is None:
        raise ValueError('color_by="ancestor" needs a hierarchy (a Hierarchy or WordNetHierarchy)')
    if hierarchy is not None and hierarchy.n_classes != n:
        raise ValueError(f"hierarchy has {hierarchy.n_classes} classes but structural is {n} x {n}")
    for name, value in (("min_count", min_count), ("iterations", iterations)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    neighbours = top_k_neighbours(sim, k)
    group = _groups(sim, groups, seed)

    if edges == "tree":
        pairs = [
            members[tree]
            for g in range(int(group.max()) + 1)
            for members in [np.flatnonzero(group == g)]
            for tree in [maximum_spanning_tree(sim[np.ix_(members, members)])]
            if len(tree)
        ]
        solid = np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)
    else:
        solid = np.stack([np.repeat(np.arange(n), k), neighbours.reshape(-1)], axis=1)
    solid = np.unique(np.sort(solid, axis=1), axis=0).reshape(-1, 2)
    similarity_edges = pd.DataFrame(
        {
            "kind": "similarity",
            "a": solid[:, 0],
            "b": solid[:, 1],
            "similarity": sim[solid[:, 0], solid[:, 1]],
            "count": 0,
            "a_to_b": 0,
            "b_to_a": 0,
            "explained": True,
        }
    )

    counts = _confusion(confusion, labels, predictions, n)
    confusion_edges = _confusion_edges(counts, sim, neighbours, min_count, max_confusion_edges, n)
    table = pd.concat([similarity_edges, confusion_edges], ignore_index=True)
    table["kind"] = table["kind"].astype("category")

    x, y = _layout(sim, solid, neighbours, seed, iterations)
    if color_by == "group":
        color = [f"group {g}" for g in group]
    elif color_by == "ancestor":
        color = [str(a) for a in hierarchy.ancestors_at_depth(ancestor_depth)]
    else:
        color = [""] * n
    nodes = pd.DataFrame(
        {
            "class": np.arange(n),
            "name": names,
            "x": x,
            "y": y,
            "group": group,
            "color": color,
            "top_neighbours": [", ".join(names[j] for j in row) for row in neighbours],
        }
    )
    return ClassGraph(nodes, table, color_by, edges, int(k))


def _class_names(class_names: Sequence[str] | None, hierarchy: Hierarchy | None, n: int) -> list[str]:
    if class_names is None:
        return [str(c) for c in hierarchy.class_nodes] if hierarchy is not None else [str(c) for c in range(n)]
    names = [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(f"class_names has {len(names)} names but structural is {n} x {n}")
    return names


def _groups(sim: np.ndarray, groups: Any, seed: int) -> np.ndarray:
    if isinstance(groups, SimilarityDepth):
        groups = groups.groups
    if isinstance(groups, str):
        return group_classes(sim, groups, seed=seed)
    return _explicit_groups(groups, len(sim))


def _confusion(confusion: Any, labels: Any, predictions: Any, n: int) -> np.ndarray | None:
    if confusion is not None:
        if labels is not None or predictions is not None:
            raise ValueError("give either confusion or labels and predictions, not both")
        counts = np.asarray(confusion)
        if counts.shape != (n, n) or not np.issubdtype(counts.dtype, np.number) or (counts < 0).any():
            raise ValueError(f"confusion must be a ({n}, {n}) matrix of non-negative counts, got shape {counts.shape}")
        return counts.astype(np.int64)
    if (labels is None) != (predictions is None):
        raise ValueError("labels and predictions go together: give both or neither")
    if labels is None:
        return None
    return confusion_counts(labels, predictions, n)


def _confusion_edges(
    counts: np.ndarray | None,
    sim: np.ndarray,
    neighbours: np.ndarray,
    min_count: int,
    max_edges: int | None,
    n: int,
) -> pd.DataFrame:
    columns = ["kind", "a", "b", "similarity", "count", "a_to_b", "b_to_a", "explained"]
    if counts is None:
        return pd.DataFrame(columns=columns)
    both = counts + counts.T
    a, b = np.nonzero(np.triu(both, 1) >= min_count)
    total = both[a, b]
    order = np.lexsort((b, a, -total))[: 3 * n if max_edges is None else max_edges]
    a, b = a[order], b[order]
    close = np.zeros((n, n), dtype=bool)
    close[np.repeat(np.arange(n), neighbours.shape[1]), neighbours.reshape(-1)] = True
    return pd.DataFrame(
        {
            "kind": "confusion",
            "a": a,
            "b": b,
            "similarity": sim[a, b],
            "count": both[a, b],
            "a_to_b": counts[a, b],
            "b_to_a": counts[b, a],
            "explained": close[a, b] | close[b, a],
        },
        columns=columns,
    )


def _layout(
    sim: np.ndarray, solid: np.ndarray, neighbours: np.ndarray, seed: int, iterations: int
) -> tuple[np.ndarray, np.ndarray]:
    """Spring layout, scaled to [-1, 1]: the drawn similarity edges pull with the min-max normalised similarity
    (0.1 .. 1), each class's top-k neighbour edges with a third of it, so that groups sit near their kin."""
    import networkx as nx

    n = len(sim)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    low, span = float(sim.min()), float(np.ptp(sim)) or 1.0

    def strength(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return 0.1 + 0.9 * (sim[a, b] - low) / span

    a, b = np.repeat(np.arange(n), neighbours.shape[1]), neighbours.reshape(-1)
    graph.add_weighted_edges_from(zip(a.tolist(), b.tolist(), (strength(a, b) / 3).tolist(), strict=True))
    a, b = solid[:, 0], solid[:, 1]
    graph.add_weighted_edges_from(zip(a.tolist(), b.tolist(), strength(a, b).tolist(), strict=True))
    if n == 1:
        return np.zeros(1), np.zeros(1)
    positions = nx.spring_layout(graph, seed=seed, iterations=iterations, weight="weight")
    xy = np.array([positions[i] for i in range(n)], dtype=np.float64)
    xy -= xy.mean(axis=0)
    scale = np.abs(xy).max() or 1.0
    xy /= scale
    return xy[:, 0], xy[:, 1]
