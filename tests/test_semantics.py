"""Class semantics without WordNet: templates, similarity matrices against loops, a hand-built hierarchy, Similarity
Depth worked out by hand and against an independent computation (networkx + walking parents), compliance."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from difficulty_widget.extract import make_model
from difficulty_widget.semantics import (
    GROUPINGS,
    Hierarchy,
    class_synsets,
    class_templates,
    compliance,
    confusion_counts,
    functional_similarity,
    group_classes,
    imagenet1k_classes,
    maximum_spanning_tree,
    similarity_depth,
    structural_similarity,
)

# entity(1) -> animal(2) -> mammal(3) -> dog(4) -> poodle(5), beagle(5); mammal -> cat(4)
#           animal -> bird(3) -> eagle(4), sparrow(4); entity -> vehicle(2) -> car(3), truck(3), boat(3)
PARENTS = {
    "entity": None, "animal": "entity", "vehicle": "entity", "mammal": "animal", "bird": "animal",
    "dog": "mammal", "cat": "mammal", "poodle": "dog", "beagle": "dog", "eagle": "bird", "sparrow": "bird",
    "car": "vehicle", "truck": "vehicle", "boat": "vehicle",
}  # fmt: skip
CLASSES = ["poodle", "beagle", "cat", "eagle", "sparrow", "car", "truck", "boat"]


def path_to_root(node, parents):
    out = [node]
    while parents[out[-1]] is not None:
        out.append(parents[out[-1]])
    return out  # node first, root last


def lca_by_walking(a, b, parents):
    up_b = set(path_to_root(b, parents))
    return next(n for n in path_to_root(a, parents) if n in up_b)


def depth_of(node, parents):
    return len(path_to_root(node, parents))


# templates and similarity matrices ---------------------------------------------------------------------------


def test_templates_from_a_model_a_named_layer_and_an_array():
    model = make_model("cnn", 10, (28, 28))
    t = class_templates(model)
    assert t.shape == (10, 128) and t.dtype == np.float64
    np.testing.assert_array_equal(t, model.classifier.weight.detach().numpy().astype(np.float64))
    head = class_templates(model, layer="head.1")  # another linear layer, by name
    np.testing.assert_array_equal(head, model.head[1].weight.detach().numpy().astype(np.float64))
    np.testing.assert_array_equal(class_templates(model.classifier.weight), t)  # a tensor
    np.testing.assert_array_equal(class_templates(t.tolist()), t)


def test_structural_similarity_against_loops():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(7, 5))
    w[3] *= 100  # scale does not matter to the cosine
    s = structural_similarity(w)
    for a, b in itertools.product(range(7), repeat=2):
        dot = sum(w[a, k] * w[b, k] for k in range(5))
        norm_a = math.sqrt(sum(v * v for v in w[a]))
        norm_b = math.sqrt(sum(v * v for v in w[b]))
        assert s[a, b] == pytest.approx(dot / (norm_a * norm_b), abs=1e-12)
    assert np.array_equal(s, s.T)
    assert np.all(np.diag(s) == 1.0)
    assert s.dtype == np.float64


def test_functional_similarity_against_loops():
    rng = np.random.default_rng(1)
    n_classes = 5
    labels = rng.integers(0, 4, 300)  # class 4 never occurs as a label
    predictions = np.where(rng.random(300) < 0.6, labels, rng.integers(0, 5, 300))
    f = functional_similarity(labels, predictions, n_classes)
    counts = confusion_counts(labels, predictions, n_classes)
    for t, p in itertools.product(range(n_classes), repeat=2):
        assert counts[t, p] == sum(1 for y, q in zip(labels, predictions, strict=True) if y == t and q == p)
    for a, b in itertools.product(range(n_classes), repeat=2):

        def rate(t, p):
            total = sum(1 for y in labels if y == t)
            return counts[t, p] / total if total else 0.0

        expected = 1.0 if a == b else (rate(a, b) + rate(b, a)) / 2
        assert f[a, b] == pytest.approx(expected, abs=1e-15)
    assert np.array_equal(f, f.T)
    assert np.all(np.diag(f) == 1.0)
    assert f[4, 4] == 1.0 and f[4, :4].tolist() == [(counts[t, 4] / counts[t].sum()) / 2 for t in range(4)]


# hierarchy ---------------------------------------------------------------------------------------------------


def test_hierarchy_lca_depth_and_similarities_against_walking_parents():
    h = Hierarchy.from_parents(PARENTS, CLASSES)
    depth_matrix = h.lca_depth_matrix()
    wup, path, lch = h.similarity("wup"), h.similarity("path"), h.similarity("lch")
    max_edges = max(depth_of(n, PARENTS) for n in PARENTS) - 1
    assert h.taxonomy_depth == max_edges == 4
    for i, j in itertools.product(range(8), repeat=2):
        a, b = CLASSES[i], CLASSES[j]
        lca = lca_by_walking(a, b, PARENTS)
        d = depth_of(lca, PARENTS)
        len_a, len_b = depth_of(a, PARENTS) - d, depth_of(b, PARENTS) - d
        assert h.lca(i, j) == lca
        assert h.lca_depth(i, j) == d == depth_matrix[i, j]
        assert wup[i, j] == pytest.approx(2 * d / (len_a + len_b + 2 * d), abs=1e-15)
        assert path[i, j] == pytest.approx(1 / (len_a + len_b + 1), abs=1e-15)
        assert lch[i, j] == pytest.approx(-math.log((len_a + len_b + 1) / (2 * max_edges)), abs=1e-12)
    pairs_i, pairs_j = np.array([0, 2, 7, 5]), np.array([1, 3, 4, 5])
    assert h.lca_depths(pairs_i, pairs_j).tolist() == [4, 2, 1, 3]
    assert h.lcas(pairs_i, pairs_j) == ["dog", "animal", "entity", "car"]
    assert h.lca_depths([], []).tolist() == [] and h.lcas([], []) == []
    assert h.class_depths().tolist() == [5, 5, 4, 4, 4, 3, 3, 3]
    assert h.ancestors_at_depth(2) == ["animal"] * 5 + ["vehicle"] * 3
    assert h.ancestors_at_depth(4) == ["dog", "dog", "cat", "eagle", "sparrow", "car", "truck", "boat"]


def test_hierarchy_from_networkx_dag_follows_the_wordnet_conventions():
    # root -> p -> q -> r -> y ; root -> s -> z ; x has two parents: r (long way) and s (short way)
    g = nx.DiGraph(
        [("root", "p"), ("p", "q"), ("q", "r"), ("r", "y"), ("root", "s"), ("s", "z"), ("r", "x"), ("s", "x")]
    )
    h = Hierarchy.from_networkx(g, ["x", "y", "z", "s"])
    # x, y: common ancestors r, q, p, root; greatest minimum depth: r (min depth 3), depth = max_depth + 1 = 4
    assert h.lca(0, 1) == "r" and h.lca_depth(0, 1) == 4
    assert h.wup(0, 1) == pytest.approx(2 * 4 / (1 + 1 + 2 * 4))
    # x, z: common ancestors s, root; s has depth 2; x reaches s in one step
    assert h.lca(0, 2) == "s" and h.lca_depth(0, 2) == 2
    assert h.wup(0, 2) == pytest.approx(2 * 2 / (1 + 1 + 2 * 2))
    assert h.lca(0, 3) == "s" and h.lca(3, 0) == "s"
    assert h.class_depths().tolist() == [5, 5, 3, 2]  # x: longest path root-p-q-r-x
    assert h.similarity("path")[0, 1] == pytest.approx(1 / 3)


def test_wu_palmer_lengths_are_shortest_paths_through_any_common_ancestor():
    # x reaches sub the long way up (x-r1-r2-r3-sub) but in 2 steps through h (x-h, sub-h): nltk's len_x is 2
    g = nx.DiGraph([("root", "h"), ("h", "sub"), ("h", "x"), ("sub", "r3"), ("r3", "r2"), ("r2", "r1"), ("r1", "x")])
    g.add_edge("sub", "y")
    h = Hierarchy.from_networkx(g, ["x", "y"])
    assert h.lca(0, 1) == "sub" and h.lca_depth(0, 1) == 3  # common: sub (min depth 2), h (1), root (0)
    assert h.wup(0, 1) == pytest.approx(2 * 3 / (2 + 1 + 2 * 3))
    assert h.similarity("path")[0, 1] == pytest.approx(1 / (1 + 1 + 2))  # x-h-sub-y


def test_lca_tie_goes_to_the_first_class_when_it_is_listed():
    # m has parents root and u (u a child of root): m and u both have minimum depth 1; b is a child of m.
    g = nx.DiGraph([("root", "u"), ("root", "m"), ("u", "m"), ("m", "b")])
    # lowest common hypernyms of (m, b): {m, u} (same minimum depth), sorted by name: [m, u]
    assert Hierarchy.from_networkx(g, ["m", "b"]).lca(0, 1) == "m"
    g2 = nx.relabel_nodes(g, {"u": "a_u"})  # now sorted [a_u, m]: m is still chosen when m is the first class
    assert Hierarchy.from_networkx(g2, ["m", "b"]).lca(1, 0) == "m"
    assert Hierarchy.from_networkx(g2, ["b", "m"]).lca(0, 1) == "a_u"  # nltk's rule with a = b


# Similarity Depth ---------------------------------------------------------------------------------------------


def hand_similarity():
    s = np.full((8, 8), 0.05)
    for (a, b), v in {
        (0, 1): 0.9, (0, 2): 0.6, (1, 2): 0.5, (2, 3): 0.4, (0, 3): 0.1, (1, 3): 0.2,
        (5, 6): 0.8, (6, 7): 0.7, (5, 7): 0.65, (4, 7): 0.3, (4, 5): 0.2, (4, 6): 0.1,
    }.items():  # fmt: skip
        s[a, b] = s[b, a] = v
    np.fill_diagonal(s, 1.0)
    return s


def test_similarity_depth_worked_out_by_hand():
    h = Hierarchy.from_parents(PARENTS, CLASSES)
    sd = similarity_depth(hand_similarity(), h, groups=[7, 7, 7, 7, 3, 3, 3, 3])
    # group 0 {poodle, beagle, cat, eagle}: tree (poodle, beagle) 0.9, (poodle, cat) 0.6, (cat, eagle) 0.4
    #   LCAs dog (4), mammal (3), animal (2); Wu-Palmer 8/10, 6/9, 4/8
    # group 1 {sparrow, car, truck, boat}: tree (car, truck) 0.8, (truck, boat) 0.7, (sparrow, boat) 0.3
    #   LCAs vehicle (2), vehicle (2), entity (1); Wu-Palmer 4/6, 4/6, 2/7
    edges = sd.edges.sort_values(["group", "a", "b"]).reset_index(drop=True)
    assert edges[["a", "b", "group"]].values.tolist() == [
        [0, 1, 0], [0, 2, 0], [2, 3, 0], [4, 7, 1], [5, 6, 1], [6, 7, 1],
    ]  # fmt: skip
    assert edges["subsumer"].tolist() == ["dog", "mammal", "animal", "entity", "vehicle", "vehicle"]
    assert edges["depth"].tolist() == [4, 3, 2, 1, 2, 2]
    np.testing.assert_allclose(edges["wup"], [8 / 10, 6 / 9, 4 / 8, 2 / 7, 4 / 6, 4 / 6], atol=1e-15)
    np.testing.assert_allclose(edges["similarity"], [0.9, 0.6, 0.4, 0.3, 0.8, 0.7])
    assert sd.value == pytest.approx(14 / 6)
    assert sd.mean_wup == pytest.approx((0.8 + 6 / 9 + 0.5 + 2 / 7 + 4 / 6 + 4 / 6) / 6)
    assert sd.n_groups == 2 and sd.groups.tolist() == [0, 0, 0, 0, 1, 1, 1, 1] and sd.grouping == "explicit"
    # one group: a single tree over all 8 classes, joined through a cross-group edge, gives another value
    whole = similarity_depth(hand_similarity(), h, groups=np.zeros(8, dtype=int))
    assert whole.n_edges == 7 and whole.value != sd.value


def random_tree(rng, n_nodes):
    parents = {"n0": None}
    for k in range(1, n_nodes):
        parents[f"n{k}"] = f"n{rng.integers(0, k)}"
    return parents


@pytest.mark.parametrize("seed", range(6))
def test_similarity_depth_against_networkx_and_walking_parents(seed):
    rng = np.random.default_rng(seed)
    parents = random_tree(rng, 40)
    classes = [f"n{k}" for k in rng.choice(np.arange(1, 40), size=15, replace=False)]
    x = rng.normal(size=(15, 6))
    s = structural_similarity(x)
    groups = rng.integers(0, 4, 15)
    sd = similarity_depth(s, Hierarchy.from_parents(parents, classes), groups=groups)
    expected_edges, depths, wups = set(), [], []
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        graph = nx.Graph()
        graph.add_nodes_from(members.tolist())
        for a, b in itertools.combinations(members.tolist(), 2):
            graph.add_edge(a, b, weight=s[a, b])
        for a, b in nx.maximum_spanning_tree(graph).edges():
            a, b = min(a, b), max(a, b)
            expected_edges.add((a, b))
            lca = lca_by_walking(classes[a], classes[b], parents)
            d = depth_of(lca, parents)
            depths.append(d)
            la, lb = depth_of(classes[a], parents) - d, depth_of(classes[b], parents) - d
            wups.append(2 * d / (la + lb + 2 * d))
    assert set(zip(sd.edges["a"], sd.edges["b"], strict=True)) == expected_edges
    assert sd.value == pytest.approx(np.mean(depths), abs=1e-12)
    assert sd.mean_wup == pytest.approx(np.mean(wups), abs=1e-12)


def test_maximum_spanning_tree_matches_networkx_total_weight():
    rng = np.random.default_rng(3)
    w = rng.random((30, 30))
    w = (w + w.T) / 2
    edges = maximum_spanning_tree(w)
    graph = nx.from_numpy_array(w)
    graph.remove_edges_from(nx.selfloop_edges(graph))
    tree = nx.maximum_spanning_tree(graph)
    assert {tuple(e) for e in edges.tolist()} == {(min(a, b), max(a, b)) for a, b in tree.edges()}
    assert len(maximum_spanning_tree(np.ones((1, 1)))) == 0


def planted_blocks(seed):
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(3), 8)
    x = rng.normal(size=(3, 16))[truth] + 0.2 * rng.normal(size=(24, 16))
    perm = rng.permutation(24)
    return structural_similarity(x[perm]), truth[perm]


@pytest.mark.parametrize("method", GROUPINGS)
def test_every_grouping_method_recovers_planted_blocks(method):
    s, truth = planted_blocks(0)
    groups = group_classes(s, method, seed=0)
    assert (groups[:, None] == groups[None, :]).tolist() == (truth[:, None] == truth[None, :]).tolist()
    assert groups[0] == 0 and set(groups.tolist()) == {0, 1, 2}  # relabelled in order of first appearance
    np.testing.assert_array_equal(group_classes(s, method, seed=0), groups)  # deterministic


@pytest.mark.parametrize("method", ["affinity", "louvain"])
def test_grouping_a_functional_matrix_follows_the_confusions(method):
    # 12 classes in 3 blocks of 4; 30% of each class's instances are predicted as another class of its block
    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(12), 50)
    block_mates = (labels // 4) * 4 + rng.integers(0, 4, len(labels))
    predictions = np.where(rng.random(len(labels)) < 0.3, block_mates, labels)
    groups = group_classes(functional_similarity(labels, predictions, 12), method)
    truth = np.arange(12) // 4
    assert (groups[:, None] == groups[None, :]).tolist() == (truth[:, None] == truth[None, :]).tolist()


def test_affinity_propagation_that_oscillates_is_run_again_with_more_damping():
    """Tied similarities (three levels only, like Wu-Palmer in a hierarchy) make affinity propagation oscillate at
    scikit-learn's defaults; group_classes then runs it with damping 0.9 and gives its partition, with no warning."""
    import warnings

    from sklearn.cluster import AffinityPropagation
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(0)
    levels = rng.integers(0, 3, (12, 12)).astype(float)
    s = (levels + levels.T) / 2
    np.fill_diagonal(s, 3.0)
    norm = (s - s.min()) / np.ptp(s)
    with pytest.warns(ConvergenceWarning):  # the case is real: the defaults do not converge
        AffinityPropagation(affinity="precomputed", random_state=0).fit(norm)
    damped = AffinityPropagation(affinity="precomputed", random_state=0, damping=0.9, max_iter=1000).fit(norm)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        groups = group_classes(s, "affinity", seed=0)
    assert (groups[:, None] == groups[None, :]).tolist() == (
        damped.labels_[:, None] == damped.labels_[None, :]
    ).tolist()


def test_noise_classes_form_one_group_or_singletons():
    s, _ = planted_blocks(1)
    big = np.full((26, 26), -0.5)  # classes 24 and 25 are far from every block and from each other
    big[:24, :24] = s
    np.fill_diagonal(big, 1.0)
    as_group = group_classes(big, "hdbscan")
    singles = group_classes(big, "hdbscan", noise="singletons")
    assert as_group[24] == as_group[25] and as_group.max() + 1 == 4  # three blocks plus one noise group
    assert singles[24] != singles[25] and singles.max() + 1 == 5
    h = Hierarchy.from_parents({f"c{k}": "root" for k in range(26)}, [f"c{k}" for k in range(26)])
    assert similarity_depth(big, h, groups="hdbscan").n_edges == 3 * 7 + 1  # a tree in each block, one in the noise
    assert similarity_depth(big, h, groups="hdbscan", noise="singletons").n_edges == 3 * 7


# compliance ---------------------------------------------------------------------------------------------------


def brute_ranks(values):
    order = sorted(range(len(values)), key=lambda k: values[k])
    ranks = [0.0] * len(values)
    k = 0
    while k < len(order):
        m = k
        while m + 1 < len(order) and values[order[m + 1]] == values[order[k]]:
            m += 1
        for q in range(k, m + 1):
            ranks[order[q]] = (k + m) / 2 + 1
        k = m + 1
    return ranks


def pearson(x, y):
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    return sxy / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))


def kendall_tau_b(x, y):
    concordant = discordant = ties_x = ties_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            ties_x += 1
        elif dy == 0:
            ties_y += 1
        elif dx * dy > 0:
            concordant += 1
        else:
            discordant += 1
    return (concordant - discordant) / math.sqrt(
        (concordant + discordant + ties_x) * (concordant + discordant + ties_y)
    )


def test_compliance_against_loops():
    rng = np.random.default_rng(4)
    n = 7
    structural = structural_similarity(rng.normal(size=(n, 4)))
    labels = rng.integers(0, n, 200)
    predictions = np.where(rng.random(200) < 0.7, labels, rng.integers(0, n, 200))
    functional = functional_similarity(labels, predictions, n)
    tree = {"r": None, **{f"g{k}": "r" for k in range(3)}, **{f"c{k}": f"g{k % 3}" for k in range(n)}}
    semantic = Hierarchy.from_parents(tree, [f"c{k}" for k in range(n)]).similarity()  # three groups: many ties
    table = compliance(structural, functional, semantic, k=2)
    assert table[["matrix_a", "matrix_b"]].values.tolist() == [
        ["functional", "structural"], ["functional", "semantic"], ["structural", "semantic"],
    ]  # fmt: skip
    mats = {"structural": structural, "functional": functional, "semantic": semantic}
    upper = [(i, j) for i in range(n) for j in range(i + 1, n)]
    for row in table.itertuples():
        x = [mats[row.matrix_a][i, j] for i, j in upper]
        y = [mats[row.matrix_b][i, j] for i, j in upper]
        assert row.spearman == pytest.approx(pearson(brute_ranks(x), brute_ranks(y)), abs=1e-12)
        assert row.kendall == pytest.approx(kendall_tau_b(x, y), abs=1e-12)
        nx_ = [(v - min(x)) / (max(x) - min(x)) for v in x]
        ny_ = [(v - min(y)) / (max(y) - min(y)) for v in y]
        dot = sum(a * b for a, b in zip(nx_, ny_, strict=True))
        assert row.cosine == pytest.approx(dot / math.sqrt(sum(a * a for a in nx_) * sum(b * b for b in ny_)))
        hits = total = 0
        chance = 0.0
        for c in range(n):
            a_row, b_row = mats[row.matrix_a][c], mats[row.matrix_b][c]
            others = [j for j in range(n) if j != c]
            top_a = sorted(others, key=lambda j: (-a_row[j], j))[:2]
            if row.matrix_a == "functional":
                top_a = [j for j in top_a if a_row[j] > 0]
            kth = sorted((b_row[j] for j in others), reverse=True)[1]
            top_b = [j for j in others if b_row[j] >= kth]
            hits += sum(1 for j in top_a if j in top_b)
            total += len(top_a)
            chance += len(top_a) * len(top_b) / (n - 1)
        assert row.edge_compliance == pytest.approx(hits / total)
        assert row.edge_chance == pytest.approx(chance / total)
        assert row.n_edges == total and row.k == 2


def test_edge_compliance_by_hand():
    # 4 classes; the model confuses only 0 <-> 1 and 2 <-> 3; its templates find 0~1 and 2~0 most similar
    functional = np.eye(4)
    functional[0, 1] = functional[1, 0] = 0.2
    functional[2, 3] = functional[3, 2] = 0.1
    structural = np.array([[1, 0.9, 0.5, 0.1], [0.9, 1, 0.2, 0.3], [0.5, 0.2, 1, 0.4], [0.1, 0.3, 0.4, 1]])
    row = compliance(structural, functional, k=1).iloc[0]
    # confusion edges: 0->1 (1's top is 0: hit), 1->0 (hit), 2->3 (2's top is 0: miss), 3->2 (3's top is 2: hit)
    assert row["edge_compliance"] == pytest.approx(3 / 4) and row["n_edges"] == 4
    assert row["edge_chance"] == pytest.approx(1 / 3)
    # k = 2: only the confusions that happened count (0->1, 1->0, 2->3, 3->2), all in the structural top 2
    row = compliance(structural, functional, k=2).iloc[0]
    assert row["edge_compliance"] == 1.0 and row["n_edges"] == 4 and row["edge_chance"] == pytest.approx(2 / 3)
    assert len(compliance(structural, functional)) == 1


# data shipped with the package ---------------------------------------------------------------------------------


def test_packaged_class_lists():
    imagenet = imagenet1k_classes()
    assert len(imagenet) == 1000 and imagenet["wnid"].is_unique
    assert imagenet["wnid"].str.fullmatch(r"n\d{8}").all()
    assert imagenet.iloc[0].tolist() == ["n01440764", "tench"] and imagenet.iloc[388].tolist() == [
        "n02510455",
        "giant panda",
    ]
    assert class_synsets(["T-shirt/top", "Ankle boot", "7"]) == ["jersey.n.03", "boot.n.01", "seven.n.01"]
    assert class_synsets(["cat"], mapping={"cat": "cat.n.01"}) == ["cat.n.01"]


# bad input -----------------------------------------------------------------------------------------------------


def test_bad_templates():
    with pytest.raises(ValueError, match="templates contains NaN"):
        class_templates(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"templates has all-zero row\(s\) \[1\]"):
        structural_similarity(np.array([[1.0, 2.0], [0.0, 0.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        class_templates(np.ones(4))
    with pytest.raises(ValueError, match="at least 2 classes"):
        class_templates(np.ones((1, 4)))
    with pytest.raises(ValueError, match="layer='nope' is not a module"):
        class_templates(make_model("cnn", 10, (28, 28)), layer="nope")
    with pytest.raises(ValueError, match=r"is a Sequential, expected an nn\.Linear"):
        class_templates(make_model("cnn", 10, (28, 28)), layer="head")
    with pytest.raises(ValueError, match=r"has no nn\.Linear"):
        class_templates(nn.Sequential(nn.Conv2d(1, 2, 3)))
    with pytest.raises(ValueError, match="only meaningful with a model"):
        class_templates(np.ones((3, 2)), layer="fc")
    with pytest.raises(ValueError, match="templates contains NaN"):
        layer = nn.Linear(3, 4)
        with torch.no_grad():
            layer.weight[2, 0] = float("inf")
        class_templates(layer)


def test_bad_similarity_and_labels():
    h = Hierarchy.from_parents(PARENTS, CLASSES)
    with pytest.raises(ValueError, match="similarity must be a square"):
        similarity_depth(np.ones((8, 7)), h)
    s = hand_similarity()
    s[0, 1] += 0.1
    with pytest.raises(ValueError, match=r"similarity is not symmetric: entry \[0, 1\]"):
        similarity_depth(s, h)
    with pytest.raises(ValueError, match="similarity is 4 x 4, expected 8 x 8"):
        similarity_depth(np.eye(4), h)
    with pytest.raises(ValueError, match="similarity contains NaN"):
        similarity_depth(np.full((8, 8), np.nan), h)
    with pytest.raises(ValueError, match="groups must be a method name or an array of 8 group ids"):
        similarity_depth(hand_similarity(), h, groups=[0, 1, 2])
    with pytest.raises(ValueError, match="groups must be one of"):
        similarity_depth(hand_similarity(), h, groups="kmeans")
    with pytest.raises(ValueError, match="hierarchy must be a Hierarchy"):
        similarity_depth(hand_similarity(), {"a": "b"})
    with pytest.raises(ValueError, match="noise must be one of"):
        group_classes(hand_similarity(), "optics", noise="drop")
    with pytest.raises(ValueError, match="predictions must lie in"):
        functional_similarity([0, 1, 2], [0, 1, 3], 3)
    with pytest.raises(ValueError, match="predictions has length 2"):
        functional_similarity([0, 1, 2], [0, 1], 3)
    with pytest.raises(ValueError, match="functional is 3 x 3, expected 4 x 4"):
        compliance(np.eye(4), np.eye(3))
    with pytest.raises(ValueError, match="k must be smaller than the number of classes"):
        compliance(np.eye(4), np.eye(4), k=4)


def test_bad_hierarchies():
    with pytest.raises(ValueError, match="parents has a cycle"):
        Hierarchy.from_parents({"a": "b", "b": "c", "c": "a", "d": None}, ["d"])
    with pytest.raises(ValueError, match=r"parents has 2 roots \('a', 'b'\)"):
        Hierarchy.from_parents({"a": None, "b": None, "c": "a"}, ["c"])
    with pytest.raises(ValueError, match=r"digraph has 3 roots .*parent to child"):
        Hierarchy.from_networkx(nx.DiGraph([("x", "r"), ("y", "r"), ("z", "r")]), ["x"])
    with pytest.raises(ValueError, match="digraph has a cycle"):
        Hierarchy.from_networkx(nx.DiGraph([("r", "a"), ("a", "b"), ("b", "c"), ("c", "a")]), ["b"])
    with pytest.raises(ValueError, match=r"digraph must be a networkx\.DiGraph"):
        Hierarchy.from_networkx(nx.Graph([("r", "a")]), ["a"])
    with pytest.raises(ValueError, match=r"classes\[1\] = 'wolf' is not a node of the hierarchy"):
        Hierarchy.from_parents(PARENTS, ["poodle", "wolf"])
    with pytest.raises(ValueError, match="classes is empty"):
        Hierarchy.from_parents(PARENTS, [])
    h = Hierarchy.from_parents(PARENTS, CLASSES)
    with pytest.raises(ValueError, match=r"j must lie in \[0, 8\)"):
        h.lca_depth(0, 8)
    with pytest.raises(ValueError, match="i and j must have the same length"):
        h.lca_depths([0, 1], [2])
    with pytest.raises(ValueError, match="kind must be one of"):
        h.similarity("cosine")


def test_results_are_frames_and_arrays():
    h = Hierarchy.from_parents(PARENTS, CLASSES)
    sd = similarity_depth(hand_similarity(), h)
    assert isinstance(sd.edges, pd.DataFrame)
    assert list(sd.edges.columns) == ["a", "b", "group", "similarity", "subsumer", "depth", "wup"]
    assert sd.groups.shape == (8,) and sd.n_edges == 8 - sd.n_groups
