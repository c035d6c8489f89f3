"""The class graph: its edges, neighbours and confusion counts against direct computations written out here."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from difficulty_widget import Analysis, Explorer
from difficulty_widget.semantics import (
    Hierarchy,
    class_graph,
    similarity_depth,
    structural_similarity,
    top_k_neighbours,
)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 16))
    templates = np.concatenate([centres[c] + 0.4 * rng.normal(size=(4, 16)) for c in range(3)])  # 12 classes
    structural = structural_similarity(templates)
    labels = rng.integers(0, 12, 3000)
    predictions = np.where(rng.random(3000) < 0.8, labels, rng.integers(0, 12, 3000))
    return structural, labels, predictions


def test_top_k_neighbours_match_a_sort_per_row(problem):
    structural, _, _ = problem
    got = top_k_neighbours(structural, 4)
    for c in range(len(structural)):
        others = sorted((j for j in range(len(structural)) if j != c), key=lambda j: (-structural[c, j], j))
        assert got[c].tolist() == others[:4]


def test_confusion_edges_count_both_directions_and_say_whether_neighbours_explain_them(problem):
    structural, labels, predictions = problem
    graph = class_graph(structural, labels=labels, predictions=predictions, k=3, max_confusion_edges=1000)
    counts = {}
    for y, p in zip(labels.tolist(), predictions.tolist(), strict=True):
        if y != p:
            counts[(y, p)] = counts.get((y, p), 0) + 1
    near = {c: set(top_k_neighbours(structural, 3)[c].tolist()) for c in range(12)}
    edges = graph.confusion_edges
    assert len(edges) == len({tuple(sorted(k)) for k in counts})
    for row in edges.itertuples():
        assert row.a < row.b
        assert row.a_to_b == counts.get((row.a, row.b), 0) and row.b_to_a == counts.get((row.b, row.a), 0)
        assert row.count == row.a_to_b + row.b_to_a
        assert row.explained == (row.b in near[row.a] or row.a in near[row.b])
    assert edges["count"].is_monotonic_decreasing
    capped = class_graph(structural, labels=labels, predictions=predictions, max_confusion_edges=5, min_count=2)
    assert len(capped.confusion_edges) == 5 and capped.confusion_edges["count"].min() >= 2
    assert capped.confusion_edges["count"].tolist() == edges["count"].nlargest(5).tolist()


def test_tree_edges_are_the_maximum_spanning_tree_of_each_group(problem):
    structural, _, _ = problem
    groups = np.repeat([0, 1, 2], 4)
    graph = class_graph(structural, groups=groups, edges="tree")
    want = set()
    for g in range(3):
        members = np.flatnonzero(groups == g)
        complete = nx.Graph()
        for i in members:
            for j in members:
                if i < j:
                    complete.add_edge(int(i), int(j), weight=structural[i, j])
        want |= {tuple(sorted(e)) for e in nx.maximum_spanning_tree(complete).edges()}
    got = {(int(a), int(b)) for a, b in graph.similarity_edges[["a", "b"]].to_numpy()}
    assert got == want
    assert (graph.nodes["group"].to_numpy() == groups).all()
    assert graph.nodes["color"].tolist() == [f"group {g}" for g in groups]
    assert len(graph.confusion_edges) == 0  # no labels: no confusion edges


def test_knn_edges_and_groups_from_a_similarity_depth_result(problem):
    structural, _, _ = problem
    parents = {f"c{i}": f"g{i // 4}" for i in range(12)} | {"g0": "root", "g1": "root", "g2": "root"}
    hierarchy = Hierarchy.from_parents(parents, classes=[f"c{i}" for i in range(12)])
    depth = similarity_depth(structural, hierarchy, groups=np.repeat([0, 1, 2], 4))
    graph = class_graph(structural, edges="knn", k=2, groups=depth, hierarchy=hierarchy, color_by="ancestor",
                        ancestor_depth=2)  # fmt: skip
    want = {tuple(sorted((c, j))) for c in range(12) for j in top_k_neighbours(structural, 2)[c].tolist()}
    assert {(int(a), int(b)) for a, b in graph.similarity_edges[["a", "b"]].to_numpy()} == want
    assert graph.nodes["color"].tolist() == [f"g{i // 4}" for i in range(12)]
    assert graph.nodes["name"].tolist() == [f"c{i}" for i in range(12)]  # names from the hierarchy


def test_layout_is_seeded_and_scaled(problem):
    structural, labels, predictions = problem
    one = class_graph(structural, labels=labels, predictions=predictions, seed=1)
    two = class_graph(structural, labels=labels, predictions=predictions, seed=1)
    xy = one.nodes[["x", "y"]].to_numpy()
    assert np.array_equal(xy, two.nodes[["x", "y"]].to_numpy())
    assert np.abs(xy).max() == pytest.approx(1.0) and np.isfinite(xy).all()
    assert "12 classes" in repr(one)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"edges": "mst"}, "edges must be one of"),
        ({"color_by": "ancestor"}, "needs a hierarchy"),
        ({"class_names": ["a", "b"]}, "class_names has 2 names"),
        ({"labels": [0, 1]}, "labels and predictions go together"),
        ({"confusion": np.ones((3, 3))}, "confusion must be a (12, 12)"),
        ({"k": 12}, "k must be an integer in [1, 11]"),
        ({"groups": [0, 1]}, "groups must be a method name or an array of 12"),
        ({"min_count": 0}, "min_count must be a positive integer"),
    ],
)
def test_bad_input_is_named(problem, kwargs, message):
    structural, _, _ = problem
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        class_graph(structural, **kwargs)


def test_explorer_draws_the_graph_and_checks_its_size(problem):
    structural, labels, predictions = problem
    frame = pd.DataFrame({"id": np.arange(len(labels)), "label": labels, "prediction": predictions})
    analysis = Analysis(frame, [f"class {i}" for i in range(12)])
    graph = class_graph(structural, labels=labels, predictions=predictions, class_names=analysis.class_names)
    explorer = Explorer(analysis, x="label", y="prediction", class_graph=graph)
    spec = next(s["spec"] for s in explorer._specs if s["id"] == "class_graph")
    meta = spec["usermeta"]["dw_graph"]
    assert meta["name"] == analysis.class_names and meta["x"] == graph.nodes["x"].tolist()
    explorer.show_class_graph(None)
    assert all(s["id"] != "class_graph" for s in explorer._specs)
    small = class_graph(structural[:5, :5])
    with pytest.raises(ValueError, match="class_graph has 5 classes but the analysis has 12"):
        explorer.show_class_graph(small)
    with pytest.raises(ValueError, match="class_graph must be a ClassGraph"):
        Explorer(analysis, x="label", y="prediction", class_graph=structural)
